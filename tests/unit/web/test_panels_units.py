"""The analyst's panels as pure logic (issue 31, issue 30's dashboard part): the custom range and its
validation, the previous period and the change, keyword search, top authors, share of voice over
time, campaigns and duplicate shares; each checked against a count made here from the results."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mmstream.errors import QueryError
from mmstream.settings import Settings
from mmstream.web import periods
from mmstream.web.authors import top_authors
from mmstream.web.charts import shares
from mmstream.web.copies import campaigns, duplicate_shares
from mmstream.web.live import LiveFeed
from mmstream.web.search import search
from mmstream.web.snapshot import View, build

T0 = 1_764_000_000
WINDOWS = ["tumbling", "hopping"]
HOSTILE = ['<img src=x onerror="window.__pwned=1">', "=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "@SUM(1+1)"]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _results() -> list[tuple[dict, dict]]:
    """120 results every 15 s over 30 min; a campaign of 12 copies by 12 accounts in the last 3 min."""
    out = []
    for i in range(120):
        brands = [["acme"], ["zenbank"], ["acme", "zenbank"], []][i % 4]
        label = ("negative", "neutral", "positive")[i % 3]
        result = {"id": f"p{i}", "created_at": _iso(T0 + 15 * i), "brands": brands, "lang": ["en", "de"][i % 2],
                  "sentiment": {"label": label, "score": {"negative": -0.8, "neutral": 0.0, "positive": 0.6}[label]},
                  "complaint": {"label": i % 5 == 0, "prob": 0.9}, "topics": [],
                  "duplicate_of": f"p{i - 1}" if i % 6 == 0 and i else None,
                  "campaign": {"id": "camp-abc", "posts": i - 107, "authors": i - 107,
                               "first_seen": _iso(T0 + 15 * 108)} if i >= 108 else None}
        author = HOSTILE[i % 4] if i < 8 else f"user{i % 7}"
        post = {"id": f"p{i}", "text": f"Post {i} about Luggage (a+b)* [x]" if i % 10 == 0 else f"post {i}",
                "author": author, "platform": ["x", "reddit"][i % 2]}
        out.append((result, post))
    return out


@pytest.fixture(scope="module")
def feed():
    live = LiveFeed(Settings())
    for result, post in _results():
        live.add_post(post)
        live.add_result(result)
    return live


def _view(**query) -> View:
    return View.from_query(query, WINDOWS)


@pytest.mark.parametrize("query, fix", [
    ({"from": _iso(T0)}, "needs both 'from' and 'to'"),
    ({"range": "custom"}, "needs both 'from' and 'to'"),
    ({"from": "yesterday", "to": _iso(T0)}, "'from' must be an ISO 8601 time with a UTC offset"),
    ({"from": "2026-12-07T09:00:00", "to": _iso(T0)}, "'from' must be an ISO 8601 time with a UTC offset"),
    ({"from": _iso(T0 + 60), "to": _iso(T0)}, "'from' must be before 'to'"),
    ({"from": _iso(T0), "to": _iso(T0)}, "'from' must be before 'to'"),
    ({"from": _iso(T0), "to": _iso(T0 + 400 * 86400)}, "at most 366 days"),
    ({"range": "2h"}, "'range' must be one of"),
    ({"q": "x" * 201}, "at most 200 characters"),
])
def test_bad_view_queries_are_refused_with_the_fix(query, fix):
    with pytest.raises(QueryError, match=fix.replace("(", r"\(").replace(")", r"\)")):
        _view(**query)


def test_a_custom_range_is_read_as_given():
    view = _view(**{"from": "2025-11-24T16:00:00+01:00", "to": "2025-11-24T15:30:00Z", "q": "  acme "})
    assert view.range == "custom" and view.q == "acme"
    assert view.bounds(0) == (1_763_996_400_000, 1_763_998_200_000)
    assert _view(range="1h").bounds(T0 * 1000) == (T0 * 1000 - 3_600_000, T0 * 1000)


def test_previous_period_and_change():
    assert periods.previous(1000, 1600) == (400, 1000)
    assert periods.covered(400, 400) and not periods.covered(401, 400) and not periods.covered(None, 400)
    now = {"brand_mentions": 30, "negative_share": 0.5, "complaint_share": None}
    before = {"brand_mentions": 20, "negative_share": 0.25, "complaint_share": 0.1}
    assert periods.change(now, before) == {"brand_mentions": {"pct": 50.0}, "negative_share": {"pp": 25.0},
                                           "complaint_share": {"pp": None}}
    assert periods.change(now, {**before, "brand_mentions": 0})["brand_mentions"] == {"pct": None}
    assert all(v == {"pct": None} or v == {"pp": None} for v in periods.change(now, None).values())


def test_shares_per_bucket():
    assert shares([[2, 0, None, 3]], [10, 5, None, 0]) == [[0.2, 0.0, None, None]]
    assert shares([], []) == []


def _in(results, lo, hi):
    return [(r, p) for r, p in results if lo < datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")).timestamp() * 1000 <= hi]


def test_custom_range_and_previous_period_in_a_snapshot(feed):
    """From the mentions (a platform filter): the headline of a custom range and of the same length
    before it, each equal to a count from the results; a range with nothing before is not compared."""
    lo, hi = (T0 + 600) * 1000 + 500, (T0 + 1200) * 1000 + 500
    view = _view(**{"from": _iso(T0 + 600) .replace("Z", ".5Z"), "to": _iso(T0 + 1200).replace("Z", ".5Z"),
                    "platform": "x"})
    snap = build(None, feed, view)

    def count(lo, hi):
        pairs = [(r, b) for r, p in _in(_results(), lo, hi) if p["platform"] == "x" for b in r["brands"]]
        return len(pairs), sum(r["sentiment"]["label"] == "negative" for r, _ in pairs) / len(pairs)
    n, neg = count(lo, hi)
    pn, pneg = count(lo - (hi - lo), lo)
    assert snap["kpis"]["brand_mentions"] == n and snap["kpis"]["negative_share"] == pytest.approx(neg)
    assert snap["kpis"]["previous"]["covered"] and snap["kpis"]["previous"]["figures"]["brand_mentions"] == pn
    assert snap["kpis"]["change"]["brand_mentions"]["pct"] == round(100 * (n - pn) / pn, 1)
    assert snap["kpis"]["change"]["negative_share"]["pp"] == round(100 * (neg - pneg), 1)
    assert snap["chart"]["open_from"] is None  # a range that ended before the newest event: nothing open
    early = build(None, feed, _view(**{"from": _iso(T0 + 60), "to": _iso(T0 + 600), "platform": "x"}))
    assert not early["kpis"]["previous"]["covered"] and early["kpis"]["change"]["brand_mentions"]["pct"] is None


def test_share_of_voice_over_time_in_a_snapshot(feed):
    snap = build(None, feed, _view(range="1h", lang="en"))
    chart = snap["chart"]
    for i in range(len(chart["t"])):
        total = sum(chart["posts"][b][i] or 0 for b in range(len(chart["brands"])))
        for b in range(len(chart["brands"])):
            want = chart["posts"][b][i] / total if total else None
            assert chart["share"][b][i] == (pytest.approx(want, abs=1e-4) if want is not None else None)
    assert chart["open_from"] == chart["t"][-1]


def test_search_is_literal_and_case_insensitive(feed):
    view = _view(range="1h", q="LUGGAGE (A+B)* [X]", brand="acme")
    found = search(feed.recent(), view, None)
    want = {f"p{i}" for i in range(0, 120, 10) if "acme" in _results()[i][0]["brands"]}
    assert {m["id"] for m in found["mentions"]} == want and found["total"] == len(want)
    assert search(feed.recent(), _view(range="1h", q=".*"), None)["total"] == 0  # not a pattern
    assert search(feed.recent(), _view(range="1h"), None) is None
    assert build(None, feed, view)["search"]["total"] == len(want)


def test_top_authors_with_their_sentiment(feed):
    view = _view(range="1h", label="negative")
    shown = top_authors(feed.recent(), view, None)
    counts: dict[str, list] = {}
    for r, p in _results():
        if r["sentiment"]["label"] == "negative":
            counts.setdefault(p["author"], []).append(r)
    assert [a["posts"] for a in shown["authors"]] == sorted((len(v) for v in counts.values()), reverse=True)[:10]
    assert all(a["posts"] == len(counts[a["author"]]) for a in shown["authors"]) and shown["total"] == len(counts)
    assert all(a["labels"]["negative"] == a["posts"] for a in shown["authors"])
    assert {a["author"] for a in shown["authors"]} & set(HOSTILE)  # kept as given, not escaped or dropped


def test_campaigns_and_duplicate_shares(feed):
    view = _view(range="1h")
    alerts = [{"kind": "coordinated", "subject": {"type": "campaign", "id": "camp-abc"}}]
    found = campaigns(feed.recent(), view, alerts)
    members = [(r, p) for r, p in _results() if r["campaign"]]
    assert len(found) == 1 and found[0]["id"] == "camp-abc" and found[0]["alerted"]
    assert found[0]["posts"] == len(members) and found[0]["authors"] == len({p["author"] for _, p in members})
    assert found[0]["reported_posts"] == max(r["campaign"]["posts"] for r, _ in members)
    assert found[0]["template"] == members[0][1]["text"]
    snap = build(None, feed, _view(range="1h", lang="de"))
    for row in snap["duplicates"]:
        mine = [r for r, _ in _results() if row["brand"] in r["brands"] and r["lang"] == "de"]
        assert row["duplicates"] == sum(bool(r["duplicate_of"]) for r in mine) and row["posts"] == len(mine)
        assert row["duplicate_share"] == pytest.approx(row["duplicates"] / len(mine))
    assert duplicate_shares([{"brand": "a", "name": "a", "posts": 0}]) == []
