"""Event-time windows: definitions, aggregation math, grace and late posts."""
from __future__ import annotations

import random

import pytest

from mmstream.analytics.engine.aggregator import WindowAggregator
from mmstream.analytics.engine.events import Mention, TopicRef
from mmstream.analytics.engine.windows import WindowSpec, recompute
from mmstream.errors import ConfigError
from mmstream.timefmt import ms_iso

T0 = 1_764_320_400.0  # 2025-11-28T09:00:00Z


def mention(i: int, t: float, brands: list[str], label: str = "neutral", score: float = 0.0,
            topics: tuple[str, ...] = ()) -> Mention:
    return Mention(f"p{i}", t, brands, label, score, [TopicRef(x, "mined", x) for x in topics])


def test_window_starts_tumbling_and_hopping():
    tumbling = WindowSpec.tumbling(60, 5)
    assert tumbling.starts(125_000) == [120_000]
    assert tumbling.starts(120_000) == [120_000]  # start inclusive
    hopping = WindowSpec.hopping(3600, 300, 5)
    starts = hopping.starts(3_600_000)
    assert len(starts) == 12 and starts[0] == 300_000 and starts[-1] == 3_600_000
    assert all(s <= 3_600_000 < s + 3_600_000 for s in starts)
    assert hopping.closes_at(0) == 3_605_000


def test_window_spec_rejects_a_size_that_is_not_a_multiple_of_the_step():
    with pytest.raises(ConfigError, match="multiple"):
        WindowSpec.hopping(100, 30, 0)


def test_counts_labels_mean_and_share_of_voice():
    agg = WindowAggregator([WindowSpec.tumbling(60, 0)])
    posts = [mention(0, T0 + 1, ["a"], "negative", -0.5, ("x",)), mention(1, T0 + 2, ["a", "b"], "positive", 0.9, ("x",)),
             mention(2, T0 + 3, ["b"], "neutral", 0.1), mention(3, T0 + 4, [], "negative", -0.9, ("y",))]
    for p in posts:
        result = agg.add(p)
        assert result.closed == [] and result.late is None
    closed = agg.add(mention(9, T0 + 61, ["a"])).closed
    assert len(closed) == 1
    state = closed[0].state
    rec_a = state.brand_record("a", closed[0].spec, closed[0].start, 5)
    assert rec_a["posts"] == 2 and rec_a["labels"] == {"negative": 1, "neutral": 0, "positive": 1}
    assert rec_a["mean_score"] == pytest.approx(0.2)
    assert rec_a["share_of_voice"] == pytest.approx(0.5) and rec_a["mentions_in_window"] == 4
    assert rec_a["top_topics"] == [{"id": "x", "label": "x", "kind": "mined", "posts": 2}]
    assert state.brands["b"].mean_score == pytest.approx(0.5)
    assert state.topics["y"].posts == 1  # topics count posts without brands too


def test_late_post_within_grace_updates_its_window_and_after_grace_goes_to_late():
    spec = WindowSpec.tumbling(60, 10)
    agg = WindowAggregator([spec])
    agg.add(mention(0, T0 + 5, ["a"]))
    agg.add(mention(1, T0 + 65, ["a"]))  # watermark 65 s: window [0, 60) closes at 70 s
    within = agg.add(mention(2, T0 + 30, ["a"]))
    assert within.late is None and within.closed == []
    closing = agg.add(mention(3, T0 + 71, ["a"]))
    assert [w.start for w in closing.closed] == [int(T0 * 1000)]
    assert closing.closed[0].state.brands["a"].posts == 2  # p0 and the late-but-in-grace p2
    after = agg.add(mention(4, T0 + 40, ["a"], "negative", -1.0))
    assert after.late is not None and after.late["id"] == "p4"
    assert after.late["missed"] == [spec.describe(int(T0 * 1000))]
    assert after.late["watermark"] == ms_iso(int((T0 + 71) * 1000))


def test_windows_close_oldest_first_and_only_once():
    agg = WindowAggregator([WindowSpec.tumbling(10, 0), WindowSpec.hopping(20, 10, 0)])
    agg.add(mention(0, T0 + 1, ["a"]))
    agg.add(mention(1, T0 + 11, ["a"]))
    closed = agg.add(mention(2, T0 + 45, ["a"])).closed
    ends = [(w.end, w.spec.name) for w in closed]
    assert ends == sorted(ends, key=lambda e: (e[0], e[1] != "tumbling"))
    assert len(closed) == len({(w.spec.name, w.start) for w in closed})
    assert agg.add(mention(3, T0 + 46, ["a"])).closed == []


def test_random_out_of_order_stream_equals_recomputation_and_nothing_is_dropped():
    """Every closed window equals the figures recomputed from the posts it
    contains, minus those reported late for it; every post is counted in or
    reported late for each window that contains it."""
    rng = random.Random(7)
    specs = [WindowSpec.tumbling(10, 3), WindowSpec.hopping(30, 10, 3)]
    agg = WindowAggregator(specs)
    posts, closed, missed = [], [], set()
    for i in range(600):
        t = T0 + i * 0.5 - rng.choice([0, 0, 0, rng.uniform(0, 20)])  # some posts up to 20 s late
        brands = rng.sample(["a", "b", "c"], rng.choice([0, 1, 1, 2]))
        label = rng.choice(["negative", "neutral", "positive"])
        m = mention(i, round(t, 3), brands, label, round(rng.uniform(-1, 1), 6))
        posts.append(m)
        result = agg.add(m)
        closed += result.closed
        if result.late:
            missed |= {(m.id, w["name"], w["start"]) for w in result.late["missed"]}
            counted = {(w["name"], w["start"]) for w in result.late["counted_in"]}
            assert counted.isdisjoint({(w["name"], w["start"]) for w in result.late["missed"]})
    assert missed and len(closed) > 50
    for window in closed:
        start_iso = ms_iso(window.start)
        members = [m for m in posts if window.start <= m.t_ms < window.end and (m.id, window.spec.name, start_iso) not in missed]
        as_results = [{"brands": m.brands, "sentiment": {"label": m.label, "score": m.score}} for m in members]
        for brand in window.state.brands:
            got = window.state.brand_record(brand, window.spec, window.start, 3)
            want = recompute(as_results, brand)
            assert (got["posts"], got["labels"]) == (want["posts"], want["labels"])
            assert got["mean_score"] == pytest.approx(want["mean_score"], abs=1e-8)
            assert got["share_of_voice"] == pytest.approx(want["share_of_voice"], abs=1e-8)
        assert set(window.state.brands) == {b for r in as_results for b in r["brands"]}
