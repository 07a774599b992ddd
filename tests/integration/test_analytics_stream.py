"""Brand analytics end to end: real broker, real worker processes, real models.

Windows use seconds instead of minutes so a test takes seconds: tumbling 10 s,
hopping 20 s every 10 s, grace 5 s.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timezone

import pytest

from mmstream.analytics.engine.events import decode_mentions
from mmstream.analytics.engine.windows import WindowSpec, recompute
from mmstream.kafka.admin import create_topics
from mmstream.testing import Record
from support import on_partitions, produce, read_all, read_outcomes, theme_text, THEMES, wait_until, WorkerProcess
from support import wait_for as kafka_wait_for

T0 = 1_764_320_400  # 2025-11-28T09:00:00Z, a multiple of every window size here
WINDOWS = {"MMSTREAM_WINDOW_TUMBLING": "10", "MMSTREAM_WINDOW_HOPPING": "20", "MMSTREAM_WINDOW_HOP": "10",
           "MMSTREAM_WINDOW_GRACE": "5"}
SPECS = [WindowSpec.tumbling(10, 5), WindowSpec.hopping(20, 10, 5)]
BRANDS = """
[brands.acme]
aliases = ["@acme", "acme air"]
[brands.brewly]
aliases = ["#brewly", "brewly coffee"]
"""
TEXTS = ["@acme lost my bag again, worst airline ever", "Loving the new #brewly latte, so good!",
         "acme air flight 12 boards at gate 4", "brewly coffee and @acme lounge: both terrible today",
         "Great crew on @acme, thank you!", "#brewly is fine I guess", "nothing to see here"]


@pytest.fixture
def topics(settings):
    create_topics(settings, roles=("worker",))
    return settings


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(check, timeout: float = 60, what: str = "condition"):
    """An HTTP condition: support.wait_until (fails with the last answer seen)."""
    return wait_until(check, timeout, what)


def read(settings, names: list[str], until, timeout: float = 60) -> list[Record]:
    """Records until ``until`` holds: support.wait_for (fails with what it read, if it does not)."""
    return kafka_wait_for(settings, names, until, timeout)


def mention_ids(settings, expected: set[str]) -> None:
    """Wait until every id of ``expected`` reached the mentions log (the engine's input order)."""
    read(settings, ["mentions"], lambda rs: expected <= {json.loads(line)["id"] for r in rs
                                                          for line in decode_mentions(r.value)})


def post(pid: str, t: float, text: str, brands: list[str] | None = None) -> dict:
    p = {"id": pid, "created_at": t, "text": text}
    if brands:
        p["brands"] = brands
    return p


FUTURE = "9999-12-31T23:59:59Z"  # a producer's broken clock


@pytest.mark.both_brokers  # and on Apache Kafka (tests/conftest.py)
def test_windows_equal_recomputation_from_enriched_including_late_posts(topics, tmp_path):
    settings = topics
    brands = tmp_path / "brands.toml"
    brands.write_text(BRANDS)
    worker = WorkerProcess(settings, tmp_path / "w.log", {**WINDOWS, "MMSTREAM_BRANDS_FILE": str(brands)})
    phases = [
        [post(f"a{i}", T0 + i * 1.5, TEXTS[i % len(TEXTS)], ["nimbus"] if i % 5 == 0 else None) for i in range(30)]
        + [post("future", FUTURE, TEXTS[0])],  # dead-lettered: it must not move the watermark to the year 9999
        # the watermark is the least over the input partitions: each of them goes to T0 + 60 or more
        [post(pid, T0 + 60 + i, TEXTS[i % len(TEXTS)]) for i, pid in enumerate(on_partitions("b"))],
        [post("grace", T0 + 52, TEXTS[0]), post("late", T0 + 21, TEXTS[1]), post("late2", T0 + 44, TEXTS[3])],
        [post(pid, T0 + 200, TEXTS[2]) for pid in on_partitions("flush")],  # closes every window above
    ]
    try:
        for phase in phases:  # each phase reaches the engine after the previous one
            produce(settings, phase)
            mention_ids(settings, {p["id"] for p in phase} - {"future"})
        results, dead = read_outcomes(settings, expected=sum(map(len, phases)))
        assert [(d["id"], d["reason"], d["stage"]) for d in dead] == [("future", "future_created_at", "validate")]
        assert worker.alive(), worker.log()

        def settled(records: list[Record]) -> bool:
            return _expected_windows(results, _late(records)) <= _window_keys(records) and "late" in _late(records)
        records = read(settings, ["brand-stats", "late"], settled)
        late = _late(records)
        stats = [r.json() for r in records if r.topic == settings.topic("brand-stats")]
        http = wait_for(lambda: (lambda s, b: b if len(b["windows"]) == sum(
            1 for s in stats if s["brand"] == "acme" and s["window"]["name"] == "tumbling") else None)(
            *get(settings.web_port, "/brands/acme/windows?window=tumbling&open=false")), what="HTTP windows")
        status, listing = get(settings.web_port, "/brands")
        bad, error = get(settings.web_port, "/brands/acme/windows?from=yesterday")
    finally:
        worker.stop()

    # past the grace period: the planted ones only (with one watermark per input partition, no post
    # of phase 1 loses a race between partitions any more)
    assert set(late) == {"late", "late2"}, sorted(late)
    assert {w["start"] for w in late["late"]["missed"]} == {_iso(T0 + 20), _iso(T0 + 10)}
    assert late["late2"]["counted_in"] and late["late2"]["missed"]  # one hopping window still open
    assert len(stats) == len({_key(s) for s in stats}) == len(_expected_windows(results, late))
    for s in stats:
        members = [r for r in results.values() if _in(r, s["window"]) and not _missed(late, r["id"], s["window"])]
        want = recompute(members, s["brand"])
        assert (s["posts"], s["labels"]) == (want["posts"], want["labels"]), s
        assert s["mean_score"] == pytest.approx(want["mean_score"], abs=1e-6)
        assert s["share_of_voice"] == pytest.approx(want["share_of_voice"], abs=1e-6)
    grace_window = next(s for s in stats if s["brand"] == "acme" and s["window"]["name"] == "tumbling"
                        and s["window"]["start"] == _iso(T0 + 50))
    assert grace_window["posts"] == 1  # the post within the grace period counts
    assert {frozenset(r["brands"]) for r in results.values()} >= {frozenset({"acme", "brewly"}), frozenset({"nimbus"})}
    assert sorted(w["window"]["start"] for w in http["windows"]) == sorted(
        s["window"]["start"] for s in stats if s["brand"] == "acme" and s["window"]["name"] == "tumbling")
    assert status == 200 and [b["brand"] for b in listing["brands"] if b["configured"]] == ["acme", "brewly"]
    assert bad == 400 and "from" in error["error"]


@pytest.mark.parametrize("checkpoint_every", [0, 10], ids=["full-replay", "from-checkpoint"])
def test_topic_ids_survive_a_worker_restart(topics, tmp_path, checkpoint_every):
    settings = topics
    env = {"MMSTREAM_TOPIC_WARMUP": "20", "MMSTREAM_ANALYTICS_CHECKPOINT_EVERY": str(checkpoint_every)}
    warm = [post(f"w{i}-{theme}", T0 + i * 4 + k, theme_text(theme, i * 7)) for i in range(25)
            for k, theme in enumerate(THEMES)]
    probes = [post(f"probe{i}-{theme}", T0 + 200 + i * 4 + k, theme_text(theme, i * 7 + 3)) for i in range(5)
              for k, theme in enumerate(THEMES)]
    first = WorkerProcess(settings, tmp_path / "w1.log", env)
    try:
        produce(settings, warm)
        wait_for(lambda: len(get(settings.web_port, "/topics")[1]["topics"]) >= len(THEMES), what="topic births")
        produce(settings, probes)
        before, _ = read_outcomes(settings, expected=len(warm) + len(probes))
    finally:
        first.stop()
    second = WorkerProcess(settings, tmp_path / "w2.log", env)
    try:
        produce(settings, probes)  # the same posts again, to a fresh worker process
        records = read(settings, ["enriched"], lambda rs: sum(r.key.startswith(b"probe") for r in rs) >= 2 * len(probes))
        status = wait_for(lambda: (lambda c, s: s if s["engine"]["duplicates"] >= len(probes) else None)(
            *get(settings.web_port, "/analytics/status")), what="the replayed probes")
        births = read_all(settings, ["topics"], settle=3)
    finally:
        second.stop()
    after = {}
    for r in records:
        if r.key.startswith(b"probe"):
            after.setdefault(r.key.decode(), []).append(_mined(r.json()))
    assert all(len(v) >= 2 for v in after.values()) and len(after) == len(probes)
    by_theme = {theme: {_mined(before[p["id"]]) for p in probes if p["id"].endswith(theme)} for theme in THEMES}
    assert all(len(ids) == 1 and None not in ids for ids in by_theme.values()), by_theme
    assert len({next(iter(ids)) for ids in by_theme.values()}) == len(THEMES)
    assert {pid: v[-1] for pid, v in after.items()} == {pid: _mined(before[pid]) for pid in after}
    # duplicate_of too: the first worker saved its duplicates state when it stopped, the second read it back
    copies = {r.key.decode(): r.json()["duplicate_of"] for r in records if r.key.startswith(b"probe")}
    assert copies == {pid: before[pid]["duplicate_of"] for pid in copies} and any(copies.values()), copies
    born = Counter(r.json()["id"] for r in births if r.json()["type"] == "birth")
    assert born and max(born.values()) == 1  # the restarted engine replayed its log without announcing births again
    # the new engine rebuilt itself up to the committed offset (from its last checkpoint, if it has
    # checkpoints, else from the start of the log), then went on from there
    # (engine partition 0 mines: every post's mining copy is there; these posts name no brand)
    replay = next(r for r in status["replays"] if r.get("partition") == 0)
    if checkpoint_every:
        assert replay["checkpoint"] == replay["from"] > 0 and replay["to"] >= replay["from"], replay
        assert replay["mentions"] < checkpoint_every + 32 and status["checkpoints"]["on_disk"]["0"], status
    else:
        assert replay["from"] == 0 and replay["to"] >= 1 and replay["mentions"] >= len(warm)
        assert replay["checkpoint"] is None and not any(status["checkpoints"]["on_disk"].values())
    assert status["engine"]["mentions"] == len(warm) + len(probes) and status["engine"]["duplicates"] >= len(probes)


def _mined(result: dict) -> str | None:
    return next((t["id"] for t in result["topics"] if t["kind"] == "mined"), None)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _in(result: dict, window: dict) -> bool:
    return _ts(window["start"]) <= _ts(result["created_at"]) < _ts(window["end"])


def _late(records: list[Record]) -> dict[str, dict]:
    return {r.json()["id"]: r.json() for r in records if r.topic.endswith(".late")}


def _missed(late: dict[str, dict], pid: str, window: dict) -> bool:
    return any(w["name"] == window["name"] and w["start"] == window["start"] for w in late.get(pid, {}).get("missed", []))


def _key(stat: dict) -> tuple[str, str, str]:
    return stat["brand"], stat["window"]["name"], stat["window"]["start"]


def _window_keys(records: list[Record]) -> set:
    return {_key(r.json()) for r in records if r.topic.endswith(".brand-stats")}


def _expected_windows(results: dict[str, dict], late: dict[str, dict]) -> set:
    """(brand, window, start) of every window that counted a post of that brand, but the flush's."""
    keys = set()
    for r in results.values():
        if r["id"].startswith("flush"):
            continue
        t_ms = int(round(_ts(r["created_at"]) * 1000))
        for spec in SPECS:
            for start in spec.starts(t_ms):
                window = spec.describe(start)
                if not _missed(late, r["id"], window):
                    keys |= {(b, spec.name, window["start"]) for b in r["brands"]}
    return keys
