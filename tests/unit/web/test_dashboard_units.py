"""Pure logic of the dashboard (no browser, no broker): the live feed's join of
posts and results, its bounds, the chart buckets, view parameters, the demo's loop."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from mmstream.analytics.serving.store import QueryStore
from mmstream.commands.serve_demo import looped
from mmstream.errors import QueryError
from mmstream.settings import Settings
from mmstream.web import live as live_module
from mmstream.web.auth import session_value
from mmstream.web.index import WindowIndex
from mmstream.web.live import LiveFeed, complaint_of
from mmstream.web.charts import MAX_POINTS, window_chart as _chart
from mmstream.web.view import View


def _result(pid: str, label: str = "negative", **extra) -> dict:
    return {"id": pid, "created_at": "2026-11-28T09:00:00Z", "brands": ["acme"], "lang": "en",
            "sentiment": {"label": label, "score": -0.5}, "topics": [{"id": "m-1", "label": "bags", "kind": "mined"}],
            "modalities": {"images": {"ocr_text": "LOST MY BAG"}}, **extra}


def test_results_join_their_posts_in_either_order():
    feed = LiveFeed(Settings())
    feed.add_post({"id": "a", "text": "first the post", "author": "ann"})
    feed.add_result(_result("a"))
    feed.add_result(_result("b"), now=100.0)  # its post comes after
    assert [m["id"] for m in feed.recent()] == ["a"]
    feed.add_post({"id": "b", "text": "then the post", "author": "bob"})
    shown = {m["id"]: m for m in feed.recent()}
    assert shown["a"]["text"] == "first the post" and shown["a"]["author"] == "ann"
    assert shown["b"]["text"] == "then the post" and shown["b"]["ocr_text"] == "LOST MY BAG"
    assert shown["b"]["topics"] == [{"id": "m-1", "label": "bags", "kind": "mined"}]


def test_a_result_whose_post_never_comes_is_shown_without_text():
    feed = LiveFeed(Settings())
    feed.add_result(_result("c"), now=100.0)
    feed._flush_pending(100.0 + live_module.JOIN_WAIT / 2)
    assert feed.recent() == []
    feed._flush_pending(100.0 + live_module.JOIN_WAIT)
    [mention] = feed.recent()
    assert mention["id"] == "c" and mention["text"] == "" and mention["has_post"] is False


def test_a_post_processed_twice_is_shown_once_and_the_rings_are_bounded():
    feed = LiveFeed(Settings())
    for i in range(live_module.MENTIONS + 50):
        feed.add_post({"id": f"p{i}", "text": "x" * 5000})
        feed.add_result(_result(f"p{i}"))
    feed.add_post({"id": f"p{live_module.MENTIONS + 49}", "text": "again"})
    feed.add_result(_result(f"p{live_module.MENTIONS + 49}"))
    recent = feed.recent()
    assert len(recent) == live_module.MENTIONS
    assert recent[-1]["id"] == f"p{live_module.MENTIONS + 49}" and recent[-1]["text"].startswith("xxx")
    assert len(recent[-1]["text"]) == live_module.TEXT_CHARS + 1  # clipped, with an ellipsis
    assert [s for s, _ in feed.since(feed.seq - 3)] == [feed.seq - 2, feed.seq - 1, feed.seq]
    for i in range(live_module.DEAD_LETTERS + 10):
        feed.add_dead_letter({"id": None, "reason": "not_json" if i % 2 else "missing_id", "stage": "decode",
                              "detail": f"bad {i}"})
    summary = feed.dead_letter_summary()
    assert summary["total"] == live_module.DEAD_LETTERS + 10 and len(feed.dead_letters) == live_module.DEAD_LETTERS
    assert {r["reason"] for r in summary["reasons"]} == {"not_json", "missing_id"}


@pytest.mark.parametrize("value,expected", [({"label": True, "prob": 0.97}, True), ({"label": False, "prob": 0.1}, False),
                                            ({"prob": 0.7}, True), (True, True), (False, False), (0.8, True), (0.2, False),
                                            ({"probability": 0.7}, True), ({"flag": False, "probability": 0.9}, False),
                                            ({"label": "complaint"}, True), (None, None), ("yes", None)])
def test_complaint_flag_in_any_shape(value, expected):
    assert complaint_of({"complaint": value}) is expected


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _window(brand: str, name: str, start_s: int, size: int, step: int, posts: int, score: float) -> dict:
    return {"brand": brand, "window": {"name": name, "size": float(size), "step": float(step), "start": _iso(start_s),
                                       "end": _iso(start_s + size)},
            "closed": True, "posts": posts, "mean_score": score,
            "labels": {"negative": posts // 2, "neutral": posts - posts // 2, "positive": 0}}


T0 = 1_764_000_000


def test_range_sums_from_the_index_match_the_windows_one_by_one():
    store = QueryStore(None, 7 * 86400)
    rows = [_window("acme", "tumbling", T0 + 60 * i, 60, 60, i % 7, 0.5 if i % 2 else -0.5) for i in range(1440)]
    for row in reversed(rows):  # out of order, as the feed reads partitions
        store.add_window(row)
    index = WindowIndex(store)
    series = index.series("acme", "tumbling")
    for since in (None, T0 * 1000, (T0 + 3600) * 1000, (T0 + 86_000) * 1000):
        got = series.sums(series.since(since), len(series.starts))
        kept = [r for r in rows if since is None or (T0 + 60 * rows.index(r) + 60) * 1000 > since]
        assert got.posts == sum(r["posts"] for r in kept)
        assert got.labels["negative"] == sum(r["labels"]["negative"] for r in kept)
        assert got.score == pytest.approx(sum(r["posts"] * r["mean_score"] for r in kept))
    assert index.series("acme", "tumbling") is series and index.rebuilds == 1  # unchanged: not rebuilt
    store.add_window(_window("acme", "tumbling", T0 + 86_400, 60, 60, 3, 0.0))
    assert index.series("acme", "tumbling") is not series and index.rebuilds == 2


def test_charts_hold_at_most_max_points_and_lose_no_post():
    store = QueryStore(None, 7 * 86400)
    for i in range(1440):
        store.add_window(_window("acme", "tumbling", T0 + 60 * i, 60, 60, 2, 0.5 if i % 2 else -0.5))
        store.add_window(_window("acme", "hopping", T0 + 60 * i, 600, 60, 10, 0.1))
    index = WindowIndex(store)
    now = (T0 + 86_400) * 1000
    xs, posts, scores, totals = _chart(index, {}, ["acme"], "tumbling", 60_000, False, now - 86_400_000, now)
    assert len(xs) <= MAX_POINTS + 1 and sum(posts[0]) == 2 * 1440
    assert totals == posts[0]  # the pool's posts per bucket (the share of voice's denominator): one brand, its own
    assert all(s is None or -1 <= s <= 1 for s in scores[0])
    xs, posts, _, _ = _chart(index, {}, ["acme"], "tumbling", 60_000, False, now - 600_000, now)
    assert sum(posts[0]) == 2 * 10 and len(xs) == 11  # a bucket is never narrower than a window
    xs, posts, _, totals = _chart(index, {}, ["acme"], "hopping", 60_000, True, now - 86_400_000, now)
    assert len(xs) <= MAX_POINTS + 1 and set(posts[0]) <= {10, 0}  # sampled, not summed
    assert totals == posts[0]


def test_view_parameters_are_checked():
    assert View.from_query({"range": "24h", "brand": "acme"}, ["tumbling", "hopping"]).brand == "acme"
    for bad in ({"range": "1y"}, {"window": "sliding"}, {"label": "angry"}):
        with pytest.raises(QueryError):
            View.from_query(bad, ["tumbling", "hopping"])
    view = View(brand="acme", label="negative", topic="m-1")
    assert view.matches(live_module.mention_of(_result("x"), None))
    assert not view.matches(live_module.mention_of(_result("y", label="positive"), None))


def test_the_session_cookie_is_not_the_token():
    assert "secret" not in session_value("secret") and session_value("secret") != session_value("other")


def test_the_demo_loop_stamps_fresh_ids_and_times():
    posts = [{"id": "a", "created_at": "2020-01-01T00:00:00Z", "text": "x"}, {"id": "bad", "text": "no time"}]
    clock = iter([1_000_000.0] + [1_000_000.0 + i for i in range(1, 100)])
    stream = looped(posts, history=4, span=40, clock=lambda: next(clock))
    out = [json.loads(next(stream)) for _ in range(8)]
    assert [p["id"] for p in out] == ["a~0", "bad~0", "a~1", "bad~1", "a~2", "bad~2", "a~3", "bad~3"]
    times = [datetime.fromisoformat(p["created_at"]).timestamp() for p in out if "created_at" in p]
    assert times[:2] == [1_000_000 - 40, 1_000_000 - 20]  # history spread over the span before the start
    assert times[2:] == sorted(times[2:]) and times[2] >= 1_000_000  # then the clock
    assert all("created_at" not in p for p in out if p["id"].startswith("bad"))


def test_mentions_per_minute_counts_event_time_in_any_arrival_order():
    feed = LiveFeed(Settings())
    for i in list(range(100, 200)) + list(range(0, 100)):  # the newest first, then late ones
        feed.add_post({"id": f"p{i}", "text": "x"})
        feed.add_result({**_result(f"p{i}"), "created_at": _iso(T0 + i)})
    assert feed.per_minute((T0 + 199) * 1000) == 60
    assert feed.per_minute((T0 + 99) * 1000) == 60
