"""Backfill through Kafka: a multi-day archive in time order, through 2 workers, 4 input partitions
and 4 engine partitions (real broker, real worker processes, real models), one worker restarted
half-way. Partitions are read at different paces; with one watermark per input partition almost
nothing is late (before: 73 % of a 9-day archive), and every brand window equals what the results
on ``enriched`` say: posts, labels, mean score, share of voice over all brands of all engine
partitions. The restart changes no output: a window written twice is written the same."""
from __future__ import annotations

import json
import urllib.request
import zlib
from collections import Counter
from datetime import datetime, timezone

import pytest

from mmstream.analytics.engine.windows import WindowSpec, recompute
from mmstream.kafka.admin import create_topics
from mmstream.kafka.broker import free_port
from support import WorkerProcess, outcomes, produce, wait_for, wait_until
from support import on_partitions

T0 = 1_764_288_000  # 2025-11-28T00:00:00Z
DAYS, POSTS = 3, 2400
ENV = {"MMSTREAM_WINDOW_TUMBLING": "3600", "MMSTREAM_WINDOW_HOPPING": "21600", "MMSTREAM_WINDOW_HOP": "3600",
       "MMSTREAM_WINDOW_GRACE": "60", "MMSTREAM_ANALYTICS_PARTITIONS": "4", "MMSTREAM_ANALYTICS_CHECKPOINT_EVERY": "300"}
SPECS = [WindowSpec.tumbling(3600, 60), WindowSpec.hopping(21600, 3600, 60)]
#: brands on every engine partition (CRC-32 of the id, modulo 4): acme 2, brewly 2, nimbus 0, delta 1, orbit 3
BRANDS = """
[brands.acme]
aliases = ["@acme", "acme air"]
[brands.brewly]
aliases = ["#brewly", "brewly coffee"]
[brands.nimbus]
aliases = ["@nimbus"]
[brands.delta]
aliases = ["@delta"]
[brands.orbit]
aliases = ["@orbit"]
"""
TEXTS = ["@acme lost my bag again, worst airline ever", "the new #brewly latte is great", "@nimbus cloud is down again",
         "brewly coffee and @acme lounge today", "nothing to see here", "thanks @delta crew, lovely flight",
         "@orbit and @delta both late, terrible", "@nimbus works fine for me", "acme air, @orbit, #brewly: all good"]


def assigned(port: int) -> list[int] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            return json.loads(resp.read()).get("assigned_partitions", [])
    except OSError:
        return None


def _fixed(result: dict) -> dict:
    """A result without what a mined topic carries of the stream's state (label, score, keywords); its id stays."""
    topics = [t if t.get("kind") != "mined" else {"id": t["id"], "kind": "mined"} for t in result.get("topics", [])]
    return {**result, "topics": topics}


def test_a_multi_day_backfill_through_two_workers_and_four_engine_partitions(settings, tmp_path):
    assert {zlib.crc32(b.encode()) % 4 for b in ("acme", "brewly", "nimbus", "delta", "orbit")} == {0, 1, 2, 3}
    create_topics(settings, roles=("worker",))
    brands = tmp_path / "brands.toml"
    brands.write_text(BRANDS)
    env = {**ENV, "MMSTREAM_BRANDS_FILE": str(brands)}
    second = {**env, "MMSTREAM_WEB_PORT": str(free_port())}
    workers = [WorkerProcess(settings, tmp_path / "w1.log", env), WorkerProcess(settings, tmp_path / "w2.log", second)]
    step = DAYS * 86400 / POSTS
    archive = [{"id": f"bf{i}", "created_at": T0 + round(i * step, 3), "text": TEXTS[i % len(TEXTS)]}
               for i in range(POSTS)]
    flush = [{"id": pid, "created_at": T0 + (DAYS + 1) * 86400, "text": TEXTS[4]} for pid in on_partitions("end")]
    ports = [settings.web_port, int(second["MMSTREAM_WEB_PORT"])]
    try:
        # both workers share the posts' partitions before the archive is sent
        wait_until(lambda: (lambda a, b: a and b and sorted(a + b) == [0, 1, 2, 3])(*map(assigned, ports)), 90,
                   "two workers sharing 4 partitions")
        produce(settings, archive)
        outcomes(settings, expected=POSTS // 2, timeout=240)
        workers[1].stop()  # half-way: one worker restarts (its partitions move, then come back)
        workers[1] = WorkerProcess(settings, tmp_path / "w2b.log", second)
        outcomes(settings, expected=POSTS, timeout=240)
        produce(settings, flush)  # every partition far past the archive: every window closes
        copies, dead = outcomes(settings, expected=POSTS + len(flush), timeout=120)  # (the restart repeats some)
        assert not dead and all(w.alive() for w in workers), workers[0].log()
        # a repeated post: the same result, but for a mined topic's label, score and keywords, which are the topic's
        # state when the result is written: its centroid moves as the stream goes on (seen on a loaded machine,
        # 2026-12-07: lounge 0.8395 -> 0.8315 for one post read before and after the restart)
        assert all(all(_fixed(c) == _fixed(v[0]) for c in v) for v in copies.values())
        results = {pid: v[0] for pid, v in copies.items()}
        archive_results = [r for r in results.values() if not r["id"].startswith("end")]
        records = wait_for(settings, ["brand-stats", "late"], lambda rs: set(_windows(archive_results, _missed(
            settings, rs))) <= set(_stats(settings, rs)), timeout=180, what="every brand window, late posts aside")
    finally:
        for w in workers:
            w.stop()
    missed = _missed(settings, records)
    late_posts = {pid for pid, _, _, _ in missed}
    print(f"backfill: {len(late_posts)} of {POSTS} posts late, {len(_stats(settings, records))} brand windows")
    assert len(late_posts) <= 0.01 * POSTS, f"{len(late_posts)} of {POSTS} late"
    written: dict = {}
    for r in records:
        if r.topic == settings.topic("brand-stats"):
            written.setdefault(r.key, []).append(r.value)
    assert all(len(set(v)) == 1 for v in written.values())  # written again after the restart: the same bytes
    stats = _stats(settings, records)
    assert {k: s["posts"] for k, s in stats.items()} == _windows(archive_results, missed)
    assert {b for b, _, _ in stats} == {"acme", "brewly", "nimbus", "delta", "orbit"}
    for (brand, name, start), s in stats.items():
        window = s["window"]
        members = [r for r in archive_results if _ts(window["start"]) <= _ts(r["created_at"]) < _ts(window["end"])]
        counted = [{**r, "brands": [b for b in r["brands"] if (r["id"], b, name, start) not in missed]} for r in members]
        want = recompute(counted, brand)
        assert (s["posts"], s["labels"]) == (want["posts"], want["labels"]), (brand, name, start)
        assert s["mean_score"] == pytest.approx(want["mean_score"], abs=1e-6)
        assert s["share_of_voice"] == pytest.approx(want["share_of_voice"], abs=1e-9)  # over every engine partition
        assert s["mentions_in_window"] == sum(len(r["brands"]) for r in counted)


def _ts(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _missed(settings, records) -> set:
    """(post id, brand, window name, start) of the windows late posts missed (per engine partition:
    a post of two brands on two partitions may be late on one of them only)."""
    out = set()
    for r in records:
        if r.topic == settings.topic("late"):
            late = r.json()
            out |= {(late["id"], b, w["name"], w["start"]) for b in late["brands"] for w in late["missed"]}
    return out


def _windows(results, missed: set) -> dict:
    """(brand, window name, start) -> posts, recomputed from results (late posts' missed windows aside)."""
    out: Counter = Counter()
    for r in results:
        t_ms = int(round(_ts(r["created_at"]) * 1000))
        for spec in SPECS:
            for start in map(_iso, spec.starts(t_ms)):
                for brand in r["brands"]:
                    if (r["id"], brand, spec.name, start) not in missed:
                        out[(brand, spec.name, start)] += 1
    return dict(out)


def _stats(settings, records) -> dict:
    out = {}
    for r in records:
        if r.topic == settings.topic("brand-stats"):
            s = r.json()
            out[(s["brand"], s["window"]["name"], s["window"]["start"])] = s
    return out
