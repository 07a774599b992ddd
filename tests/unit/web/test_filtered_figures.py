"""Every figure of a snapshot follows every filter (issue 31): the headline numbers, the brand table
and the chart agree with each other and with a count made here from the results themselves."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mmstream.settings import Settings
from mmstream.web.live import LiveFeed, complaint_of
from mmstream.web.snapshot import View, build

T0 = 1_764_000_000


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _results() -> list[tuple[dict, dict]]:
    out = []
    for i in range(120):
        brands = [["acme"], ["zenbank"], ["acme", "zenbank"], []][i % 4]
        label = ("negative", "neutral", "positive")[i % 3]
        result = {"id": f"p{i}", "created_at": _iso(T0 + 15 * i), "brands": brands, "lang": ["en", "de"][i % 2],
                  "sentiment": {"label": label, "score": {"negative": -0.8, "neutral": 0.0, "positive": 0.6}[label]},
                  "complaint": {"label": i % 5 == 0, "prob": 0.9 if i % 5 == 0 else 0.1},
                  "topics": [{"id": f"m-{i % 3}", "label": f"topic {i % 3}", "kind": "mined"}]}
        post = {"id": f"p{i}", "text": f"post {i}", "author": f"user{i % 7}", "platform": ["x", "reddit", "<b>x</b>"][i % 3]}
        out.append((result, post))
    return out


@pytest.fixture(scope="module")
def feed():
    live = LiveFeed(Settings())
    for result, post in _results():
        live.add_post(post)
        live.add_result(result)
    return live


def _matching(view: View) -> list[dict]:
    """The independent count: straight from the results and posts, not through the feed's mentions."""
    out = []
    for result, post in _results():
        if ((not view.brand or view.brand in result["brands"])
                and (not view.label or result["sentiment"]["label"] == view.label)
                and (not view.lang or result["lang"] == view.lang)
                and (not view.platform or post["platform"] == view.platform)
                and (not view.topic or any(t["id"] == view.topic for t in result["topics"]))):
            out.append(result)
    return out


VIEWS = [View(range="1h", label="negative"), View(range="1h", brand="acme", label="negative"),
         View(range="1h", topic="m-1"), View(range="1h", lang="de"), View(range="1h", platform="<b>x</b>"),
         View(range="1h", brand="zenbank", lang="en", platform="reddit"), View(range="15m", label="positive")]


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: ",".join(f"{k}={v}" for k, v in v.__dict__.items() if v))
def test_every_figure_follows_every_filter(feed, view):
    snap = build(None, feed, view)
    since = snap["since"]
    want = [r for r in _matching(view) if datetime.fromisoformat(r["created_at"]).timestamp() * 1000 > since]
    per_brand = {}
    for r in want:
        for brand in r["brands"]:
            per_brand[brand] = per_brand.get(brand, 0) + 1
    scope = [view.brand] if view.brand else list(per_brand)
    pairs = [(r, b) for r in want for b in r["brands"] if b in scope]
    kpis = snap["kpis"]
    assert kpis["source"] == "mentions"
    assert kpis["brand_mentions"] == len(pairs) > 0
    assert kpis["negative_share"] == pytest.approx(sum(r["sentiment"]["label"] == "negative" for r, _ in pairs) / len(pairs))
    assert kpis["complaint_share"] == pytest.approx(sum(complaint_of(r) for r, _ in pairs) / len(pairs))
    assert {b["brand"]: b["posts"] for b in snap["brands"]} == {b: n for b, n in per_brand.items() if b in scope}
    assert sum(b["posts"] for b in snap["brands"]) == kpis["brand_mentions"]  # the table and the headline agree
    chart = snap["chart"]
    assert set(chart["brands"]) == set(scope)
    for brand, row in zip(chart["brands"], chart["posts"]):
        assert sum(p or 0 for p in row) == per_brand[brand]  # and the chart
    assert kpis["per_minute"] == sum(1 for r in want if snap["now"] - 60_000 < datetime.fromisoformat(
        r["created_at"]).timestamp() * 1000 <= snap["now"])
    assert chart["open_from"] == chart["t"][-1]  # the bucket holding the newest event is marked open


def test_the_filters_offer_the_languages_and_platforms_seen(feed):
    facets = build(None, feed, View(range="1h"))["facets"]
    assert dict(map(tuple, facets["lang"])) == {"en": 60, "de": 60}
    assert dict(map(tuple, facets["platform"])) == {"x": 40, "reddit": 40, "<b>x</b>": 40}
    assert View.from_query({"lang": "de", "platform": "x"}, ["tumbling"]).by_mentions
    assert not View.from_query({"brand": "acme"}, ["tumbling"]).by_mentions


def test_the_figures_say_from_when_the_mentions_count():
    live = LiveFeed(Settings())
    for result, post in _results():
        live.add_post(post)
        live.add_result(result)
    day = build(None, live, View(range="24h", label="negative"))
    assert day["kpis"]["covered_from"] == T0  # the ring's oldest mention: the range reaches further back
    assert build(None, live, View(range="15m", label="negative"))["kpis"]["covered_from"] is None


def test_the_first_bucket_past_the_newest_closed_window_is_open():
    from mmstream.web.charts import open_from as _open_from

    xs = [100, 110, 120, 130]
    assert _open_from(xs, 10, 120_000) == 120  # [120, 130) reaches past the closed end: still filling
    assert _open_from(xs, 10, 125_000) == 120  # half closed is open
    assert _open_from(xs, 10, 140_000) is None  # all closed
    assert _open_from(xs, 10, None) == 100  # nothing closed yet
