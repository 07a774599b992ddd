"""The HTTP API (README, "HTTP API") and spike alerts from real workers: two worker processes on
the real broker, one analytics engine between them, every worker answering alike.

Posts go to one partition and the analytics to one engine (``MMSTREAM_ANALYTICS_PARTITIONS=1``;
test_partitions.py has several), so the engine sees them in event-time order and no post is late; the
windows are seconds long (tumbling 10 s, hopping 20 s every 10 s, grace 5 s) and the alert spans
minutes (recent 60 s against a 600 s baseline), so two planted bursts, one per brand, raise
volume alerts within a second of stream.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import pytest

from mmstream.kafka.broker import free_port
from mmstream.kafka.admin import create_topics
from support import THEMES, WorkerProcess, produce, read_outcomes, theme_text, wait_for, wait_until

T0 = 1_764_320_400  # a multiple of every window size here
ENV = {"MMSTREAM_PARTITIONS": "1", "MMSTREAM_ANALYTICS_PARTITIONS": "1", "MMSTREAM_WINDOW_TUMBLING": "10", "MMSTREAM_WINDOW_HOPPING": "20",
       "MMSTREAM_WINDOW_HOP": "10", "MMSTREAM_WINDOW_GRACE": "5", "MMSTREAM_ALERT_RECENT": "60",
       "MMSTREAM_ALERT_BASELINE": "600", "MMSTREAM_ALERT_COOLDOWN": "60", "MMSTREAM_TOPIC_WARMUP": "20"}
BURSTS = {"acme": 600, "brewly": 900}  # 30 extra posts in 30 s each, over one post per 10 s


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def ok(port: int, path: str) -> dict:
    status, body = get(port, path)
    assert status == 200, (path, status, body)
    return body


def stream() -> list[dict]:
    themes = list(THEMES)
    posts = []
    for brand, offset in (("acme", 0), ("brewly", 5)):
        posts += [{"id": f"{brand}-bg{i}", "created_at": T0 + offset + 10 * i, "brands": [brand],
                   "text": theme_text(themes[i % 4], i)} for i in range(120)]
        start = BURSTS[brand]
        posts += [{"id": f"{brand}-burst{i}", "created_at": T0 + start + i + 0.5, "brands": [brand],
                   "text": theme_text(themes[(i + 1) % 4], i + 60)} for i in range(30)]
    posts.sort(key=lambda p: p["created_at"])
    posts.append({"id": "flush", "created_at": T0 + 1300, "brands": ["acme", "brewly"], "text": "the end of the day"})
    return posts


@pytest.fixture
def two_workers(settings, tmp_path):
    settings = settings.replace(partitions=1)
    create_topics(settings.replace(partitions=1), roles=("worker",))
    ports = [settings.web_port, free_port()]
    workers = [WorkerProcess(settings.replace(web_port=p), tmp_path / f"w{i}.log", ENV) for i, p in enumerate(ports)]
    try:
        yield settings, ports, workers
    finally:
        for w in workers:
            w.stop()


def test_alerts_windows_and_topics_over_http_from_two_workers(two_workers):
    settings, ports, workers = two_workers
    posts = stream()
    wait_until(lambda: all(get(p, "/analytics/status")[0] == 200 for p in ports), 120, "both web servers")
    produce(settings, posts)
    results, dead = read_outcomes(settings, expected=len(posts), timeout=240, context=workers)
    assert not dead, dead[:3]

    def both_alerts():
        found = [ok(p, "/alerts")["alerts"] for p in ports]
        subjects = [{(a["kind"], a["subject"]["id"]) for a in f} for f in found]
        return found if all({("volume", "acme"), ("volume", "brewly")} <= s for s in subjects) else None
    alerts_0, alerts_1 = wait_until(both_alerts, 120, "volume alerts for acme and brewly on both workers")
    def last_closed(records) -> bool:
        """brewly's last tumbling window before the flush post, and acme's last hopping one (compared below):
        the flush closes both, but their records need not come back in that order"""
        seen = {(v["brand"], v["window"]["name"], v["window"]["start"]) for v in map(json.loads, (r.value for r in records))}
        return {("brewly", "tumbling", iso(T0 + 1190)), ("acme", "hopping", iso(T0 + 1190))} <= seen
    stats = wait_for(settings, "brand-stats", last_closed, timeout=60)
    # the flush post's own windows stay open; every other window has closed: wait until both feeds read them
    same = ("/alerts", "/topics?status=all", "/brands/acme/windows?window=hopping&open=false",
            "/brands/brewly/windows?window=tumbling&open=false", "/brands")
    wait_until(lambda: all(ok(ports[0], path) == ok(ports[1], path) for path in same)
               and len(ok(ports[0], "/brands/brewly/windows?window=tumbling&open=false")["windows"]) >= 120,
               60, "both workers answering alike, every closed window read")

    # -- one engine, every worker answers alike ---------------------------------------------------
    status = [ok(p, "/analytics/status") for p in ports]
    assert sorted(s["engine_here"] for s in status) == [False, True], status
    engine_port = ports[[s["engine_here"] for s in status].index(True)]
    other_port = ports[1 - ports.index(engine_port)]
    assert alerts_0 == alerts_1
    alerts_0 = ok(ports[0], "/alerts")["alerts"]

    # -- alerts: from real results, oldest first, filters, limit -----------------------------------
    alerts = alerts_0
    assert [a["window"]["end"] for a in alerts] == sorted(a["window"]["end"] for a in alerts)
    for brand, start in BURSTS.items():
        [alert] = [a for a in alerts if (a["kind"], a["subject"]["type"], a["subject"]["id"]) == ("volume", "brand", brand)]
        end = ts(alert["window"]["end"])
        assert T0 + start < end <= T0 + start + 40, alert["window"]  # raised during its burst
        assert alert["id"] == f"volume:brand:{brand}:{alert['window']['end']}"
        # its figures are the real results' counts in its spans
        mine = [r for r in results.values() if brand in r["brands"]]
        span = lambda w: sum(ts(w["start"]) <= ts(r["created_at"]) < ts(w["end"]) for r in mine)  # noqa: E731
        assert alert["figures"]["posts"] == span(alert["window"]) >= 20
        assert alert["figures"]["baseline_posts"] == span(alert["baseline"])
        assert alert["figures"]["z"] >= 4 and alert["figures"]["ratio"] >= 3
        assert any(pid.startswith(f"{brand}-burst") for pid in alert["example_post_ids"])
    acme = next(a for a in alerts if a["subject"]["id"] == "acme" and a["kind"] == "volume")
    acme_end = urllib.parse.quote(acme["window"]["end"])
    assert ok(other_port, "/alerts?limit=1")["alerts"] == alerts[-1:]
    assert ok(other_port, f"/alerts?limit={len(alerts) - 1}")["alerts"] == alerts[1:]
    assert ok(other_port, "/alerts?kind=volume")["alerts"] == [a for a in alerts if a["kind"] == "volume"]
    assert ok(other_port, "/alerts?kind=negative_share")["alerts"] == [a for a in alerts if a["kind"] == "negative_share"]
    for kind in ("complaint_share", "coordinated"):  # listed in the README; answered 400 before
        assert ok(other_port, f"/alerts?kind={kind}")["alerts"] == [a for a in alerts if a["kind"] == kind]
    assert ok(other_port, "/alerts?subject=acme")["alerts"] == [a for a in alerts if a["subject"]["id"] == "acme"]
    assert ok(other_port, "/alerts?subject=nobody")["alerts"] == []
    # (from, to]: an alert whose window ends at `to` is in, one ending at `from` is out
    assert acme in ok(other_port, f"/alerts?to={acme_end}")["alerts"]
    assert acme not in ok(other_port, f"/alerts?from={acme_end}")["alerts"]
    assert ok(other_port, f"/alerts?to={acme_end}")["alerts"] == [a for a in alerts if ts(a["window"]["end"]) <= ts(acme["window"]["end"])]
    assert ok(other_port, f"/alerts?from={T0 + BURSTS['brewly'] - 1}")["alerts"] == [
        a for a in alerts if ts(a["window"]["end"]) > T0 + BURSTS["brewly"] - 1]
    for bad in ("/alerts?kind=spike", "/alerts?limit=0", "/alerts?limit=x", "/alerts?from=yesterday"):
        code, body = get(other_port, bad)
        assert code == 400 and body["error"], (bad, code, body)

    # -- topics: status, limit, one topic and 404 ---------------------------------------------------
    everything = ok(other_port, "/topics?status=all")["topics"]
    active = ok(other_port, "/topics")["topics"]
    assert active and active == [t for t in everything if t["status"] == "active"]
    assert [t["posts"] for t in everything] == sorted((t["posts"] for t in everything), reverse=True)
    for status_name in ("merged", "retired"):
        assert ok(other_port, f"/topics?status={status_name}")["topics"] == [
            t for t in everything if t["status"] == status_name]
    assert ok(other_port, "/topics?status=all&limit=1")["topics"] == everything[:1]
    assert get(other_port, "/topics?status=dormant")[0] == 400
    for topic in everything[:3]:
        assert ok(other_port, f"/topics/{topic['id']}") == topic
    code, body = get(other_port, "/topics/m-0000000000")
    assert code == 404 and "m-0000000000" in body["error"]

    # -- windows: hopping over HTTP, open=true only on the engine's worker, from/to ---------------------
    closed = [json.loads(r.value) for r in stats]
    hopping = ok(other_port, "/brands/acme/windows?window=hopping&open=false")["windows"]
    assert hopping == sorted(hopping, key=lambda w: w["window"]["start"])
    assert {w["window"]["start"]: w for w in hopping} == {
        s["window"]["start"]: s for s in closed if s["brand"] == "acme" and s["window"]["name"] == "hopping"}
    assert all((w["window"]["size"], w["window"]["step"], w["closed"]) == (20.0, 10.0, True) for w in hopping)
    for w in hopping:  # each hopping window counts the acme results inside it
        assert w["posts"] == sum(ts(w["window"]["start"]) <= ts(r["created_at"]) < ts(w["window"]["end"])
                                 for r in results.values() if "acme" in r["brands"]), w["window"]
    with_open = ok(engine_port, "/brands/acme/windows?window=hopping")["windows"]
    still_open = [w for w in with_open if not w["closed"]]
    assert {w["window"]["start"] for w in still_open} == {iso(T0 + 1290), iso(T0 + 1300)}  # the flush post's
    assert [w for w in with_open if w["closed"]] == hopping
    assert ok(engine_port, "/brands/acme/windows?window=hopping&open=true")["windows"] == with_open
    assert ok(other_port, "/brands/acme/windows?window=hopping&open=true")["windows"] == hopping  # no engine here
    some = ok(other_port, f"/brands/acme/windows?window=tumbling&open=false&from={T0 + 100}&to={T0 + 200}")["windows"]
    assert [w["window"]["start"] for w in some] == [iso(T0 + t) for t in range(100, 200, 10)]
    assert get(other_port, "/brands/acme/windows?window=weekly")[0] == 400
    assert all(w.alive() for w in workers), [w.log() for w in workers]
