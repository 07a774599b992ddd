"""The dashboard's charts: posts and mean score per bucket and brand, from the windows
(closed ones through :class:`~mmstream.web.index.WindowIndex`, open ones from the engine) or,
for a view filtered beyond its brand, from the mentions (:mod:`mmstream.web.filtered`); and
which buckets are still open, so the page draws them as open rather than as a drop.

Bounded: at most :data:`MAX_POINTS` buckets (windows merged) per brand.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from mmstream.web import filtered
from mmstream.web.index import Series, Sums, WindowIndex, ms
from mmstream.web.view import View

if TYPE_CHECKING:
    from mmstream.analytics.pipeline.service import Analytics

MAX_POINTS = 120
CHART_BRANDS = 8


def open_rows(analytics: "Analytics | None", engine_here: bool, brand: str, name: str, since: int | None,
              closed: Series | None, until: int | None = None) -> list[dict]:
    """The engine's open windows of the brand that end after ``since`` (and start before ``until``,
    when given) and are not closed yet."""
    if analytics is None or not engine_here:
        return []
    out = []
    for row in analytics.engine.open_windows(brand, name):
        start = ms(row["window"]["start"])
        if (since is not None and ms(row["window"]["end"]) <= since) or (until is not None and start >= until):
            continue
        if closed is not None:
            i = bisect_left(closed.starts, start)
            if i < len(closed.starts) and closed.starts[i] == start:
                continue
        out.append(row)
    return out


def bucket_edges(first: int, since: int | None, now: int, spec_step: int) -> tuple[list[int], int]:
    """Bucket starts (ms) over ``[max(first, since), now]``, at most MAX_POINTS, each a whole number
    of steps wide, and that width."""
    lo = max(first, since or first)
    width = max(spec_step, -(-(now - lo) // MAX_POINTS // spec_step) * spec_step)
    return (list(range(lo - lo % width, now + 1, width)) if now else []), width


def window_chart(index: WindowIndex | None, rows_open: dict[str, list[dict]], charted: list[str], name: str,
                 spec_step: int, hopping: bool, since: int | None, now: int,
                 pool: list[str] | None = None) -> tuple[list[int], list[list], list[list], list[int]]:
    """Buckets of at most MAX_POINTS over ``[since, now]``, from the earliest window in range (of the
    ``pool``'s brands, ``charted`` among them): tumbling windows summed per bucket, hopping windows
    (they overlap) sampled, the last ending in each bucket. Bucket times in seconds; posts 0 and
    score null where none; and the posts of the whole pool per bucket (posts only: two binary
    searches a brand and bucket)."""
    pool = pool or charted
    series = {b: index.series(b, name) if index is not None else None for b in pool}
    first = now
    for b in pool:
        ser = series[b]
        if ser is not None and ser.since(since) < len(ser.starts):
            first = min(first, ser.starts[ser.since(since)])
        first = min([first] + [ms(r["window"]["start"]) for r in rows_open.get(b, [])])
    edges, width = bucket_edges(first, since, now, spec_step)
    posts_out, score_out = [], []
    for b in charted:
        ser, extra = series[b], rows_open.get(b, [])
        posts_row, score_row = [], []
        for edge in edges:
            total = Sums()
            if hopping:
                best: tuple[int, dict] | None = None
                i = ser.last_ending_in(edge, edge + width) if ser is not None else None
                if i is not None:
                    best = (ser.ends[i], ser.rows[i])
                for row in extra:
                    end = ms(row["window"]["end"])
                    if edge <= end < edge + width and (best is None or end > best[0]):
                        best = (end, row)
                if best is not None:
                    total.add_row(best[1])
            else:
                if ser is not None:
                    total = ser.sums(*ser.starting(edge, edge + width))
                for row in extra:
                    if edge <= ms(row["window"]["start"]) < edge + width:
                        total.add_row(row)
            posts_row.append(total.posts)
            score_row.append(round(total.score / total.posts, 4) if total.posts else None)
        posts_out.append(posts_row)
        score_out.append(score_row)
    totals = [0] * len(edges)
    for b in pool:
        ser, extra = series[b], rows_open.get(b, [])
        for k, edge in enumerate(edges):  # as above: hopping, the last window ending in the bucket; tumbling, all
            if hopping:
                i = ser.last_ending_in(edge, edge + width) if ser is not None else None
                best = (ser.ends[i], ser.posts[i + 1] - ser.posts[i]) if i is not None else (-1, 0)
                for row in extra:  # open windows: few, a brand's newest
                    end = ms(row["window"]["end"])
                    if edge <= end < edge + width and end > best[0]:
                        best = (end, int(row.get("posts") or 0))
                totals[k] += best[1]
                continue
            if extra:
                totals[k] += sum(int(row.get("posts") or 0) for row in extra
                                 if edge <= ms(row["window"]["start"]) < edge + width)
        if not hopping and ser is not None and edges:  # consecutive buckets: one binary search per edge
            at = [bisect_left(ser.starts, e) for e in edges] + [bisect_left(ser.starts, edges[-1] + width)]
            for k in range(len(edges)):
                totals[k] += ser.posts[at[k + 1]] - ser.posts[at[k]]
    return [e // 1000 for e in edges], posts_out, score_out, totals


def open_from(xs: list[int], width_s: int, closed_until: int | None) -> int | None:
    """The first bucket (s) still filling: one reaching past the newest closed window's end
    (every bucket when none closed yet); None when all are closed."""
    for x in xs:
        if closed_until is None or (x + width_s) * 1000 > closed_until:
            return x
    return None


def shares(rows: list[list], totals: list) -> list[list]:
    """Each of ``rows``' posts per bucket as a share of the bucket's posts over every brand in view
    (``totals``); None where the bucket has none (or is not covered)."""
    return [[round(v / t, 4) if v is not None and t else None for v, t in zip(row, totals)] for row in rows]


def chart_of(analytics: "Analytics | None", engine_here: bool, index: WindowIndex | None, view: View,
             charted: list[str], spec: Any, mentions: list[dict], covered_from: int | None, since: int | None,
             now: int, everyone: list[str] | None = None, live: bool = True) -> dict:
    """The chart's payload: from the windows, or (a filter beyond the brand) from the mentions; with
    the first bucket still open (``open_from``, s) so the page draws it as open, not as a drop
    (none for a custom range that ended before the newest event: ``live`` False). ``share``: each
    charted brand's share of the posts of ``everyone`` (every brand in view) per bucket."""
    step = spec.step_ms if spec is not None else 60_000
    size = spec.size_ms if spec is not None else step
    hopping = size > step
    pool = charted + [b for b in everyone or [] if b not in charted]
    until = now if view.range == "custom" else None
    if view.by_mentions:
        chosen = [m for m in mentions if view.without_brand().matches(m) and set(m["brands"]) & set(pool)]
        first = min([m["t"] for m in chosen], default=now)
        edges, width = bucket_edges(first, since, now, step)
        posts, score = filtered.chart(mentions, view, charted, edges, width, size if hopping else width, covered_from)
        totals = filtered.totals(mentions, view, pool, edges, width, size if hopping else width, covered_from)
        xs = [e // 1000 for e in edges]
        opened = xs[-1] if xs and live else None  # the bucket holding the newest event: more may come
    else:
        rows_open = {b: open_rows(analytics, engine_here, b, view.window, since,
                                  index.series(b, view.window) if index is not None else None, until) for b in pool}
        xs, posts, score, totals = window_chart(index, rows_open, charted, view.window, step, hopping, since, now, pool)
        ends = [index.series(b, view.window).ends[-1] for b in charted
                if index is not None and index.series(b, view.window).ends]
        width = (xs[1] - xs[0]) * 1000 if len(xs) > 1 else step
        opened = open_from(xs, width // 1000, max(ends) if ends else None) if live else None
    return {"t": xs, "brands": charted, "posts": posts, "score": score, "share": shares(posts, totals),
            "share_brands": len(pool), "open_from": opened,
            "bucket": width / 1000, "source": "mentions" if view.by_mentions else "windows",
            "covered_from": covered_from // 1000 if covered_from else None,
            "window": {"name": view.window, "size": size / 1000, "step": step / 1000}}
