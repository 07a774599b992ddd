"""The figures of a view filtered beyond its brand (sentiment, topic, language,
platform), counted from the live ring of mentions: :func:`brand_rows`,
:func:`chart`, :func:`facets`.

Why the mentions and not the windows: a window holds one brand's posts, labels,
mean score and complaints, not its topics, languages or platforms, and not the
score or complaints of its negative posts alone. So a view with any of those
filters takes *every* figure (headline numbers, brand table, charts) from the same
mentions, and they agree with each other; a view with the brand alone (or none)
takes them from the windows (exact over the whole range). The ring holds the
newest :data:`mmstream.web.live.MENTIONS`; when it does not reach back to the
range's start, :func:`coverage` says from when the figures count, and the chart
leaves the buckets before it empty (null), never zero.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from itertools import accumulate
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from mmstream.web.view import View

LABELS = ("negative", "neutral", "positive")
MAX_FACETS = 30


def in_range(recent: list[dict], since: int | None, until: int | None = None) -> list[dict]:
    """Mentions of the ring whose event time falls in the range ``(since, until]`` (those without one
    are left out; ``until`` None: no end)."""
    return [m for m in recent if m["t"] is not None and (since is None or m["t"] > since)
            and (until is None or m["t"] <= until)]


def coverage(recent: list[dict], since: int | None) -> int | None:
    """From when (ms) the ring's mentions count the range: None when its oldest mention is older
    than the range's start, else that mention's event time (the reader began later, or the ring
    let older ones go)."""
    times = [m["t"] for m in recent if m["t"] is not None]
    if not times:
        return None
    oldest = min(times)
    return oldest if since is None or oldest > since else None


def brand_rows(mentions: Iterable[dict], view: "View", names: dict[str, str],
               configured: set[str]) -> list[dict]:
    """One row per brand among the mentions matching the view but its brand (the brand table's
    shape: posts, labels, mean score, negative and complaint share); brands with none left out."""
    rows: dict[str, dict] = {}
    others = view.without_brand()
    for m in mentions:
        if not others.matches(m):
            continue
        for brand in m["brands"]:
            row = rows.get(brand)
            if row is None:
                row = rows[brand] = {"brand": brand, "name": names.get(brand, brand), "configured": brand in configured,
                                     "posts": 0, "labels": dict.fromkeys(LABELS, 0), "_score": 0.0, "_scored": 0,
                                     "complaints": 0, "complaint_known": 0, "duplicates": 0}
            row["posts"] += 1
            row["duplicates"] += bool(m.get("duplicate_of"))
            if m["label"] in row["labels"]:
                row["labels"][m["label"]] += 1
            if m["score"] is not None:
                row["_score"] += m["score"]
                row["_scored"] += 1
            if m["complaint"] is not None:
                row["complaints"] += bool(m["complaint"])
                row["complaint_known"] += 1
    out = []
    for row in rows.values():
        scored = row.pop("_scored")
        score = row.pop("_score")
        posts = row["posts"]
        row["mean_score"] = score / scored if scored else None
        row["negative_share"] = row["labels"]["negative"] / posts if posts else None
        row["complaint_share"] = row["complaints"] / row["complaint_known"] if row["complaint_known"] else None
        row["duplicate_share"] = row["duplicates"] / posts if posts else None
        out.append(row)
    return out


def chart(mentions: list[dict], view: "View", charted: list[str], edges: list[int], width: int, size: int,
          covered_from: int | None) -> tuple[list[list], list[list]]:
    """Posts and mean score per bucket and charted brand, of the mentions matching the view
    (its brand aside: each charted brand is one line). A bucket ``[e, e + width)`` counts the
    mentions of the window ending at its end, ``size`` long (``size == width``: tumbling buckets;
    longer: hopping windows, sampled at each bucket's end). Buckets ending before
    ``covered_from`` are null: the ring does not reach them."""
    others = view.without_brand()
    chosen = [m for m in mentions if others.matches(m)]
    posts_out, score_out = [], []
    for brand in charted:
        mine = sorted((m["t"], m["score"]) for m in chosen if brand in m["brands"])
        times = [t for t, _ in mine]
        # prefix sums: a bucket costs two binary searches, not a pass over the brand's mentions
        scored = [0, *accumulate(s is not None for _, s in mine)]
        total = [0.0, *accumulate(s or 0.0 for _, s in mine)]
        posts_row: list = []
        score_row: list = []
        for edge in edges:
            if covered_from is not None and edge + width <= covered_from:
                posts_row.append(None)
                score_row.append(None)
                continue
            lo, hi = bisect_left(times, edge + width - size), bisect_left(times, edge + width)
            n = scored[hi] - scored[lo]
            posts_row.append(hi - lo)
            score_row.append(round((total[hi] - total[lo]) / n, 4) if n else None)
        posts_out.append(posts_row)
        score_out.append(score_row)
    return posts_out, score_out


def totals(mentions: list[dict], view: "View", pool: list[str], edges: list[int], width: int, size: int,
           covered_from: int | None) -> list[int | None]:
    """Brand mentions of ``pool``'s brands per bucket (a post naming two counts twice, as in the brand
    table), of the mentions matching the view but its brand, counted like :func:`chart`."""
    others, wanted = view.without_brand(), set(pool)
    mine = sorted((m["t"], len(wanted.intersection(m["brands"]))) for m in mentions if others.matches(m))
    times = [t for t, _ in mine]
    counts = [0, *accumulate(n for _, n in mine)]
    out: list[int | None] = []
    for edge in edges:
        if covered_from is not None and edge + width <= covered_from:
            out.append(None)
            continue
        lo, hi = bisect_left(times, edge + width - size), bisect_left(times, edge + width)
        out.append(counts[hi] - counts[lo])
    return out


def facets(mentions: Iterable[dict]) -> dict[str, list[list]]:
    """The languages and platforms among the mentions in range, busiest first (the filters' options)."""
    langs: Counter = Counter()
    platforms: Counter = Counter()
    for m in mentions:
        if m["lang"]:
            langs[m["lang"]] += 1
        if m["platform"]:
            platforms[m["platform"]] += 1
    return {"lang": [[k, n] for k, n in langs.most_common(MAX_FACETS)],
            "platform": [[k, n] for k, n in platforms.most_common(MAX_FACETS)]}
