"""The dashboard's headline figures agree with the SQL sink's tables for the same stream (issue 31):
a worker on the embedded broker scores a stream, `mmstream sink` upserts the output topics into a
throw-away PostgreSQL, and the dashboard's snapshot (its /events stream: what the page draws) says
per brand, and in all, what the database counts: posts, negative posts, complaints among the posts
with a complaint label, share of voice; unfiltered (figures from the windows) and for negative posts
(figures from the mentions); and each closed window in the database is the chart's bucket."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from mmstream.testing import unique_settings
from support import WorkerProcess, produce, read_outcomes, settings_env, theme_text
from test_downstream import Db, postgres  # noqa: F401 - fixture

BRANDS_TOML = '''
[brands.acme]
name = "Acme Air"
aliases = ["acme air", "@acmeair"]

[brands.zenbank]
aliases = ["zenbank"]
'''
# 10 s windows: most are closed (in brand-stats) by the end of the stream
ENV = {"MMSTREAM_WINDOW_TUMBLING": "10", "MMSTREAM_WINDOW_HOPPING": "60", "MMSTREAM_WINDOW_HOP": "10",
       "MMSTREAM_WINDOW_GRACE": "5", "MMSTREAM_TOPIC_WARMUP": "10"}


def _posts(now: datetime) -> list[dict]:
    """48 posts over the last 4 minutes, on two brands (some both), angry and happy themes."""
    themes = [("acme air", "luggage"), ("zenbank", "phone"), ("acme air", "coffee"), ("acme air and zenbank", "phone")]
    posts = []
    for i in range(48):
        alias, theme = themes[i % len(themes)]
        text = f"{alias}: {theme_text(theme, i)}" + (" awful, never again!" if i % 3 == 0 else " great service, thanks")
        posts.append({"id": f"s{i:03d}", "created_at": (now - timedelta(seconds=240 - 5 * i)).isoformat(timespec="seconds"),
                      "lang": "en", "author": f"user{i}", "text": text, "platform": "x"})
    return posts


def _snapshot(port: int, query: str) -> dict:
    """The first snapshot the dashboard's event stream sends for the view ``query``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/events?{query}", timeout=30) as stream:
        block = ""
        for raw in stream:
            line = raw.decode()
            if line == "\n":
                if block.startswith("event: snapshot"):
                    return json.loads(block.split("data: ", 1)[1])
                block = ""
            else:
                block += line
    raise AssertionError("no snapshot")


def _sql_figures(db: Db, negative_only: bool) -> dict[str, dict]:
    where = "WHERE r.sentiment_label = 'negative'" if negative_only else ""
    rows = db.rows(f"""SELECT b.brand, count(*), sum((r.sentiment_label = 'negative')::int),
                              sum(r.complaint::int), count(r.complaint)
                       FROM mmstream_results r JOIN mmstream_result_brands b ON b.id = r.id {where}
                       GROUP BY b.brand ORDER BY b.brand""")
    return {brand: {"posts": n, "negative": neg, "complaints": int(c or 0), "complaint_known": known}
            for brand, n, neg, c, known in rows}


def _shown(snap: dict) -> dict[str, dict]:
    return {b["brand"]: {"posts": b["posts"], "negative": b["labels"]["negative"], "complaints": b["complaints"],
                         "complaint_known": b["complaint_known"]} for b in snap["brands"] if b["posts"]}


def test_the_dashboards_headline_equals_the_sql_sinks_tables(broker, postgres, tmp_path):  # noqa: F811
    settings = unique_settings(tmp_path / "data", broker=broker.url)
    (tmp_path / "brands.toml").write_text(BRANDS_TOML)
    worker = WorkerProcess(settings, tmp_path / "worker.log", env={**ENV, "MMSTREAM_BRANDS_FILE": str(tmp_path / "brands.toml")})
    try:
        worker.produce(posts := _posts(datetime.now(timezone.utc)))
        results, dead = read_outcomes(settings, len(posts), timeout=240)
        assert len(results) == len(posts) and not dead, (dead, worker.log())
        with open(tmp_path / "sink.log", "wb") as log:
            sink = subprocess.run([sys.executable, "-m", "mmstream", "sink", postgres.dsn, "--topics",
                                   "enriched,brand-stats,alerts", "--exit-when-idle", "8"],
                                  env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT, timeout=240)
        assert sink.returncode == 0, (tmp_path / "sink.log").read_text()
        db = Db(postgres.dsn)
        assert db.count("results") == len(posts)
        # the database's counts; the dashboard's tables fill as the worker's feed reads the topics back
        total = db.count("result_brands")
        for negative_only, query in ((False, "range=1h"), (True, "range=1h&label=negative")):
            want = _sql_figures(db, negative_only)
            assert set(want) == {"acme", "zenbank"} and all(w["posts"] for w in want.values()), want
            deadline = time.monotonic() + 60
            while True:
                snap = _snapshot(settings.web_port, query)
                if _shown(snap) == want or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert _shown(snap) == want, (query, _shown(snap), want)
            assert snap["kpis"]["source"] == ("mentions" if negative_only else "windows")
            mentions = sum(w["posts"] for w in want.values())
            known = sum(w["complaint_known"] for w in want.values())
            kpis = snap["kpis"]
            assert kpis["brand_mentions"] == mentions
            assert abs(kpis["negative_share"] - sum(w["negative"] for w in want.values()) / mentions) < 1e-9
            assert known and abs(kpis["complaint_share"] - sum(w["complaints"] for w in want.values()) / known) < 1e-9
            for row in snap["brands"]:
                assert abs(row["share_of_voice"] - want[row["brand"]]["posts"] / mentions) < 1e-9
        # window by window: each closed tumbling window in the database (brand-stats) is the chart's bucket
        # of that brand and start (10 s buckets: a range of 1 h over 4 min of posts merges no window)
        snap = _snapshot(settings.web_port, "range=1h&window=tumbling")
        chart = snap["chart"]
        assert chart["bucket"] == 10 and chart["source"] == "windows"
        closed = db.rows("SELECT brand, window_start, posts, mean_score FROM mmstream_brand_stats "
                         "WHERE window_name = 'tumbling' AND closed ORDER BY brand, window_start")
        assert len(closed) >= 10, closed
        for brand, start, n, mean in closed:
            i, j = chart["t"].index(int(start.timestamp())), chart["brands"].index(brand)
            assert chart["posts"][j][i] == n, (brand, start, chart["posts"][j][i], n)
            assert abs(chart["score"][j][i] - mean) < 1e-4, (brand, start, chart["score"][j][i], mean)
        assert sum(n for _, _, n, _ in closed) <= total
    finally:
        worker.stop()
