"""Backfill through Kafka: a multi-day archive in time order, through 2 workers and 4 partitions
(real broker, real worker processes, real models). Partitions are read at different paces; with
one watermark per input partition almost nothing is late (before: 73 % of a 9-day archive), and
each window counts exactly the posts of its brand and span."""
from __future__ import annotations

import json
import urllib.request
from collections import Counter
from datetime import datetime, timezone

from mmstream.analytics.windows import WindowSpec
from mmstream.kafka.broker import free_port
from mmstream.kafka.clients import ensure_topics
from mmstream.worker.run import OUTPUT_TOPICS
from support import WorkerProcess, produce, read_outcomes, wait_for, wait_until
from test_analytics_stream import BRANDS, on_partitions

T0 = 1_764_288_000  # 2025-11-28T00:00:00Z
DAYS, POSTS = 3, 2400
ENV = {"MMSTREAM_WINDOW_TUMBLING": "3600", "MMSTREAM_WINDOW_HOPPING": "21600", "MMSTREAM_WINDOW_HOP": "3600",
       "MMSTREAM_WINDOW_GRACE": "60"}
SPECS = [WindowSpec.tumbling(3600, 60), WindowSpec.hopping(21600, 3600, 60)]
TEXTS = ["@acme lost my bag again", "the new #brewly latte is great", "acme air flight 12 boards at gate 4",
         "brewly coffee and @acme lounge today", "nothing to see here", "thanks @acme crew"]


def assigned(port: int) -> list[int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
        return json.loads(resp.read()).get("assigned_partitions", [])


def test_a_multi_day_backfill_through_two_workers_is_almost_never_late(settings, tmp_path):
    ensure_topics(settings, [settings.topic(t) for t in OUTPUT_TOPICS], settings.partitions)
    brands = tmp_path / "brands.toml"
    brands.write_text(BRANDS)
    env = {**ENV, "MMSTREAM_BRANDS_FILE": str(brands)}
    second_port = free_port()
    workers = [WorkerProcess(settings, tmp_path / "w1.log", env),
               WorkerProcess(settings, tmp_path / "w2.log", {**env, "MMSTREAM_WEB_PORT": str(second_port)})]
    step = DAYS * 86400 / POSTS
    archive = [{"id": f"bf{i}", "created_at": T0 + round(i * step, 3), "text": TEXTS[i % len(TEXTS)]}
               for i in range(POSTS)]
    flush = [{"id": pid, "created_at": T0 + (DAYS + 1) * 86400, "text": TEXTS[4]} for pid in on_partitions("end")]
    try:
        # both workers share the posts' partitions before the archive is sent
        wait_until(lambda: (lambda a, b: a and b and sorted(a + b) == [0, 1, 2, 3])(
            _quiet(assigned, settings.web_port), _quiet(assigned, second_port)), 90, "two workers sharing 4 partitions")
        produce(settings, archive)
        results, dead = read_outcomes(settings, expected=POSTS, timeout=240)
        produce(settings, flush)  # every partition far past the archive: every window closes
        results, dead = read_outcomes(settings, expected=POSTS + len(flush), timeout=120)
        assert not dead and all(w.alive() for w in workers), workers[0].log()
        records = wait_for(settings, ["brand-stats", "late"], lambda rs: _done(settings, rs, results), timeout=180,
                           what="every window of every brand, late posts aside")
    finally:
        for w in workers:
            w.stop()
    late = _late(settings, records)
    print(f"backfill: {len(late)} of {POSTS} posts late, {len(_stats(settings, records))} windows")
    assert len(late) <= 0.01 * POSTS, f"{len(late)} of {POSTS} late"
    stats = _stats(settings, records)
    assert len(stats) == len({_key(r) for r in records if r.topic == settings.topic("brand-stats")})
    assert stats == _windows(_archive(results), late)  # each window: exactly its brand's posts
    assert sum(n for (_, name, _), n in stats.items() if name == "tumbling") == sum(
        len(r["brands"]) for r in _archive(results) if r["id"] not in late)
    assert {b for b, _, _ in stats} == {"acme", "brewly"}


def _quiet(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None


def _ts(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _archive(results: dict) -> list[dict]:
    return [r for r in results.values() if not r["id"].startswith("end")]


def _windows(results, late: dict) -> dict:
    """(brand, window name, start) -> posts, recomputed from results (a late post's missed windows aside)."""
    out: Counter = Counter()
    for r in results:
        t_ms = int(round(_ts(r["created_at"]) * 1000))
        missed = {(w["name"], w["start"]) for w in late.get(r["id"], {}).get("missed", [])}
        for spec in SPECS:
            for start in spec.starts(t_ms):
                if (spec.name, _iso(start)) not in missed:
                    for brand in r["brands"]:
                        out[(brand, spec.name, _iso(start))] += 1
    return dict(out)


def _key(r) -> tuple:
    s = r.json()
    return s["brand"], s["window"]["name"], s["window"]["start"]


def _late(settings, records) -> dict:
    return {r.json()["id"]: r.json() for r in records if r.topic == settings.topic("late")}


def _stats(settings, records) -> dict:
    out = {}
    for r in records:
        if r.topic == settings.topic("brand-stats"):
            s = r.json()
            out[(s["brand"], s["window"]["name"], s["window"]["start"])] = s["posts"]
    return out


def _done(settings, records, results) -> bool:
    return set(_windows(_archive(results), _late(settings, records))) <= set(_stats(settings, records))
