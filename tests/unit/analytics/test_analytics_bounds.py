"""The analytics memory bounds (README, Reliability and "Where it runs"): the engine remembers the
last ``ANALYTICS_DEDUPE`` post ids and no more; the query store keeps ``ANALYTICS_KEEP`` of event
time of windows and alerts and drops what is older."""
from __future__ import annotations

from datetime import datetime, timezone

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.events import Mention
from mmstream.analytics.serving.store import QueryStore
from mmstream.settings import Settings

T0 = 1_764_320_400.0
DAY = 86_400.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def mention(i: int) -> Mention:
    return Mention(f"p{i}", T0 + i, ["acme"], "neutral", 0.0, [])


def test_dedupe_remembers_the_last_n_ids_only():
    engine = AnalyticsEngine(Settings.load(analytics_dedupe=50))
    for i in range(200):
        engine.process(mention(i))
    assert engine.stats["mentions"] == 200 and engine.stats["duplicates"] == 0
    engine.process(mention(199))  # remembered: dropped as a duplicate
    assert engine.stats["duplicates"] == 1
    engine.process(mention(100))  # 100 ids ago: forgotten, counted again
    assert engine.stats["duplicates"] == 1
    assert len(engine.seen._ids) == 50  # the memory bound itself


def window(brand: str, start: float, size: float = 60.0) -> dict:
    return {"brand": brand, "window": {"name": "tumbling", "size": size, "step": size, "start": iso(start),
                                       "end": iso(start + size)}, "closed": True, "posts": 2,
            "labels": {"negative": 1, "neutral": 1, "positive": 0}, "mean_score": 0.0, "share_of_voice": 1.0,
            "mentions_in_window": 2, "top_topics": []}


def alert(brand: str, end: float) -> dict:
    return {"id": f"volume:brand:{brand}:{iso(end)}", "kind": "volume",
            "subject": {"type": "brand", "id": brand, "label": brand},
            "window": {"start": iso(end - 3600), "end": iso(end)}}


def test_the_query_store_keeps_its_span_of_event_time():
    store = QueryStore(None, keep_seconds=7 * DAY)
    for day in range(10):
        store.add_alert(alert("acme", T0 + day * DAY + 60))
        store.add_window(window("acme", T0 + day * DAY))
    kept = store.windows("acme", "tumbling", None, None)
    # the newest window ends at day 9 + 60 s: everything ending within 7 days of that stays
    assert [w["window"]["start"] for w in kept] == [iso(T0 + d * DAY) for d in range(2, 10)]
    assert [a["window"]["end"] for a in store.alerts()] == [iso(T0 + d * DAY + 60) for d in range(2, 10)]
    # the brands listing counts only the posts of the windows kept
    [acme] = [b for b in store.brands() if b["brand"] == "acme"]
    assert acme["posts"] == 2 * 8 and acme["closed_windows"] == 8
