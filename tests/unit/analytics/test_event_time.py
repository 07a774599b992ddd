"""Event time: the bound on the future (and the past) and the per-partition watermark (pure logic)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mmstream.analytics.engine.aggregator import WindowAggregator
from mmstream.analytics.engine.events import Mention
from mmstream.analytics.engine.watermark import Watermarks
from mmstream.analytics.engine.windows import WindowSpec
from mmstream.errors import PostError
from mmstream.pipeline.post import check_event_time

T0 = 1_764_320_400.0  # 2025-11-28T09:00:00Z


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)


def test_created_at_beyond_the_future_bound_is_refused_with_its_reason():
    check_event_time(at(T0 + 3599), T0, 3600, 0)  # within the hour: fine
    with pytest.raises(PostError) as caught:
        check_event_time(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc), T0, 3600, 0)
    assert caught.value.reason == "future_created_at" and caught.value.stage == "validate"
    assert "MMSTREAM_MAX_FUTURE" in caught.value.detail
    check_event_time(at(T0 - 10 * 365 * 86400), T0, 3600, 0)  # no bound on the past by default
    with pytest.raises(PostError) as old:
        check_event_time(at(T0 - 8 * 86400), T0, 3600, 7 * 86400)
    assert old.value.reason == "old_created_at" and "MMSTREAM_MAX_AGE" in old.value.detail


def m(i: int, t: float, src: int | None, pt: float | None = None, brands: tuple[str, ...] = ("a",)) -> Mention:
    return Mention(f"p{i}", t, list(brands), "neutral", 0.0, src=src, pt=pt)


def test_watermark_is_the_minimum_over_partitions_and_never_moves_back():
    marks = Watermarks(idle_ms=30_000)
    assert marks.observe("0", 10_000, 0) == 10_000
    assert marks.observe("1", 5_000, 0) == 10_000  # a slower partition appears: no step back
    assert marks.observe("0", 50_000, 1000) == 10_000  # partition 1 holds it at its 5 s ... and the floor at 10 s
    assert marks.observe("1", 40_000, 2000) == 40_000
    assert marks.observe("1", 90_000, 3000) == 50_000  # now partition 0 is the slow one


def test_an_expected_partition_not_heard_from_holds_the_watermark_until_idle():
    marks = Watermarks(idle_ms=30_000, partitions=2)
    assert marks.observe("0", 10_000, 0) is None  # partition 1 may still deliver older posts
    assert marks.observe("0", 20_000, 29_000) is None
    assert marks.observe("0", 30_000, 31_000) == 30_000  # silent 31 s since the start: idle
    assert Watermarks(30_000, 2).observe("-", 5, 0) == 5  # mentions from no partition: just the largest time


def test_an_idle_partition_stops_holding_the_watermark_back_after_the_idle_time():
    marks = Watermarks(idle_ms=30_000)
    marks.observe("0", 10_000, 0)
    marks.observe("1", 10_000, 0)
    assert marks.observe("0", 100_000, 29_000) == 10_000  # partition 1 silent for 29 s: still waited for
    assert marks.observe("0", 110_000, 31_000) == 110_000  # 31 s: idle, partition 0 alone decides
    assert marks.describe()["1"]["idle"] is True
    assert marks.observe("1", 120_000, 32_000) == 110_000  # back with its next mention


def test_backfill_read_at_different_paces_loses_nothing_with_partition_watermarks():
    """Four partitions of a time-ordered archive read one after the other in chunks (the
    worst case of different paces): the old max-based watermark made most posts late."""
    spec = WindowSpec.tumbling(60, 0)
    posts = [(i, T0 + i * 7.0, i % 4) for i in range(2000)]  # 3.9 hours, round robin over 4 partitions
    per_part = {p: [x for x in posts if x[2] == p] for p in range(4)}
    order = []
    for chunk in range(0, 500, 50):  # partition 0's next 50, then partition 1's ...
        for p in range(4):
            order += per_part[p][chunk:chunk + 50]
    agg = WindowAggregator([spec], idle_ms=30_000, partitions=4)
    late, closed = 0, {}
    for k, (i, t, p) in enumerate(order):
        added = agg.add(m(i, t, p, pt=T0 + k * 0.01))
        late += added.late is not None
        for w in added.closed:
            closed[w.start] = w.state.brands["a"].posts
    for w in agg.add(m(-1, T0 + 10**6, 0, pt=T0 + 100)).closed:  # far later: the others idle, all windows close
        closed[w.start] = w.state.brands["a"].posts
    assert late == 0
    want: dict[int, int] = {}
    for _, t, _ in posts:
        start = int(t * 1000) - int(t * 1000) % 60_000
        want[start] = want.get(start, 0) + 1
    assert closed == want  # every window closed, with every post of its span
    old = WindowAggregator([spec])  # one pseudo-partition (no src): the largest event time
    assert sum(old.add(m(i, t, None)).late is not None for i, t, _ in order) > len(posts) // 2


def test_mentions_carry_their_partition_and_processing_time_through_json():
    back = Mention.from_json(m(1, T0, 3, pt=T0 + 0.5).to_json())
    assert (back.src, back.pt, back.source, back.pt_ms) == (3, T0 + 0.5, "3", int((T0 + 0.5) * 1000))
    plain = Mention.from_json(m(2, T0, None).to_json())
    assert (plain.src, plain.pt, plain.source) == (None, None, "-")
