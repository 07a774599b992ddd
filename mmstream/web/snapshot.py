"""What one dashboard view shows, as one JSON-able dict: :func:`build`.

Inputs: the analytics' query store (closed windows, topics, alerts, read back
from the output topics, so every worker has them), the engine's open windows
(only on the worker that runs the engine), and the live rings of
:class:`mmstream.web.live.LiveFeed`. Times are event time: a range ("last hour")
ends at the newest event seen, not at the wall clock, so a replayed or delayed
stream reads the same.

Bounded whatever the data: charts hold at most :data:`CHART_BRANDS` brands and
:data:`MAX_POINTS` points each (windows merged into buckets), the brand table
:data:`MAX_BRANDS` rows, topics and alerts a few dozen.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mmstream.errors import QueryError
from mmstream.web import filtered
from mmstream.web.index import Series, Sums, WindowIndex, ms

if TYPE_CHECKING:
    from mmstream.analytics.pipeline.service import Analytics
    from mmstream.web.live import LiveFeed

RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
MAX_POINTS = 120
CHART_BRANDS = 8
MAX_BRANDS = 200
MAX_TOPICS = 20
MAX_ALERTS = 30
LABELS = ("negative", "neutral", "positive")


FILTERS = ("brand", "topic", "label", "lang", "platform")


@dataclass(frozen=True)
class View:
    range: str = "1h"
    window: str = "tumbling"
    brand: str = ""
    topic: str = ""
    label: str = ""
    lang: str = ""
    platform: str = ""

    @classmethod
    def from_query(cls, query: Any, windows: list[str]) -> "View":
        view = cls(**{k: str(query.get(k, getattr(cls, k)))[:256] for k in ("range", "window") + FILTERS})
        if view.range not in RANGES:
            raise QueryError(f"'range' must be one of {', '.join(RANGES)}, got {view.range!r}")
        if view.window not in windows:
            raise QueryError(f"'window' must be one of {', '.join(windows)}, got {view.window!r}")
        if view.label not in ("",) + LABELS:
            raise QueryError(f"'label' must be one of {', '.join(LABELS)} or empty, got {view.label!r}")
        return view

    def matches(self, mention: dict) -> bool:
        return ((not self.brand or self.brand in mention["brands"])
                and (not self.label or mention["label"] == self.label)
                and (not self.lang or mention["lang"] == self.lang)
                and (not self.platform or mention["platform"] == self.platform)
                and (not self.topic or any(t["id"] == self.topic for t in mention["topics"])))

    @property
    def by_mentions(self) -> bool:
        """A filter the windows cannot answer: every figure comes from the mentions (:mod:`.filtered`)."""
        return bool(self.label or self.topic or self.lang or self.platform)

    @property
    def filtered(self) -> bool:
        return any(getattr(self, k) for k in FILTERS)

    def without_brand(self) -> "View":
        return replace(self, brand="")

    def without_topic(self) -> "View":
        return replace(self, topic="")


def _open_rows(analytics: "Analytics | None", engine_here: bool, brand: str, name: str, since: int | None,
               closed: Series | None) -> list[dict]:
    """The engine's open windows of the brand that end after ``since`` and are not closed yet."""
    if analytics is None or not engine_here:
        return []
    out = []
    for row in analytics.engine.open_windows(brand, name):
        start = ms(row["window"]["start"])
        if since is not None and ms(row["window"]["end"]) <= since:
            continue
        if closed is not None:
            i = bisect_left(closed.starts, start)
            if i < len(closed.starts) and closed.starts[i] == start:
                continue
        out.append(row)
    return out


def _brand_ids(analytics: "Analytics | None", engine_here: bool, recent: list[dict]) -> tuple[list[dict], set[str]]:
    """Configured brands, then those seen (in windows, open windows, recent mentions)."""
    listed: list[dict] = []
    if analytics is not None and analytics.store.catalog is not None:
        listed = [{**b, "configured": True} for b in analytics.store.catalog.describe()]
    known = {b["brand"] for b in listed}
    seen = set(analytics.store.seen_brands()) if analytics is not None else set()
    if engine_here:
        seen |= set(analytics.engine.describe().get("open_brands", []))
    for mention in recent[-500:]:
        seen |= set(mention["brands"])
    listed += [{"brand": b, "name": b, "configured": False} for b in sorted(seen - known)]
    return listed, known


def newest_event(analytics: "Analytics | None", ends: list[int], recent: list[dict], engine_here: bool) -> int:
    """The newest event time known: closed windows' ends, recent mentions, the engine's watermark."""
    newest = max([0, *ends] + [m["t"] or 0 for m in recent[-200:]])
    if engine_here:
        newest = max(newest, int(analytics.engine.describe().get("watermark") or 0))
    return newest


def _edges(first: int, since: int | None, now: int, spec_step: int) -> tuple[list[int], int]:
    """Bucket starts (ms) over ``[max(first, since), now]``, at most MAX_POINTS, each a whole number
    of steps wide, and that width."""
    lo = max(first, since or first)
    width = max(spec_step, -(-(now - lo) // MAX_POINTS // spec_step) * spec_step)
    return (list(range(lo - lo % width, now + 1, width)) if now else []), width


def _chart(index: WindowIndex | None, rows_open: dict[str, list[dict]], charted: list[str], name: str,
           spec_step: int, hopping: bool, since: int | None, now: int) -> tuple[list[int], list[list], list[list]]:
    """Buckets of at most MAX_POINTS over ``[since, now]``, from the earliest window in range:
    tumbling windows summed per bucket, hopping windows (they overlap) sampled, the last
    ending in each bucket. Bucket times in seconds; posts 0 and score null where none."""
    series = {b: index.series(b, name) if index is not None else None for b in charted}
    first = now
    for b in charted:
        ser = series[b]
        if ser is not None and ser.since(since) < len(ser.starts):
            first = min(first, ser.starts[ser.since(since)])
        first = min([first] + [ms(r["window"]["start"]) for r in rows_open.get(b, [])])
    edges, width = _edges(first, since, now, spec_step)
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
    return [e // 1000 for e in edges], posts_out, score_out


def _open_from(xs: list[int], width_s: int, closed_until: int | None) -> int | None:
    """The first bucket (s) still filling: one reaching past the newest closed window's end
    (every bucket when none closed yet); None when all are closed."""
    for x in xs:
        if closed_until is None or (x + width_s) * 1000 > closed_until:
            return x
    return None


def _window_table(analytics: "Analytics | None", engine_here: bool, brands: list[dict], configured: set[str],
                  closed_of: dict[str, Series | None], tumbling: str, since: int | None,
                  recent: list[dict]) -> list[dict]:
    """The brand table from the windows (closed ones read back, open ones from the engine)."""
    table = []
    for entry in brands:
        brand = entry["brand"]
        closed = closed_of[brand]
        total = closed.sums(closed.since(since), len(closed.starts)) if closed is not None else Sums()
        for row in _open_rows(analytics, engine_here, brand, tumbling, since, closed):
            total.add_row(row)
        posts = total.posts
        known = posts if total.with_complaints else 0
        table.append({"brand": brand, "name": str(entry.get("name") or brand), "configured": brand in configured,
                      "posts": posts, "labels": total.labels, "mean_score": total.score / posts if posts else None,
                      "negative_share": total.labels["negative"] / posts if posts else None,
                      "complaints": total.complaints if known else 0, "complaint_known": known,
                      "complaint_share": total.complaints / posts if known else None})
    _live_complaints(table, recent)
    return table


def _chart_of(analytics: "Analytics | None", engine_here: bool, index: WindowIndex | None, view: View,
              charted: list[str], spec: Any, mentions: list[dict], covered_from: int | None, since: int | None,
              now: int) -> dict:
    """The chart's payload: from the windows, or (a filter beyond the brand) from the mentions; with
    the first bucket still open (``open_from``, s) so the page draws it as open, not as a drop."""
    step = spec.step_ms if spec is not None else 60_000
    size = spec.size_ms if spec is not None else step
    hopping = size > step
    if view.by_mentions:
        chosen = [m for m in mentions if view.without_brand().matches(m) and set(m["brands"]) & set(charted)]
        first = min([m["t"] for m in chosen], default=now)
        edges, width = _edges(first, since, now, step)
        posts, score = filtered.chart(mentions, view, charted, edges, width, size if hopping else width, covered_from)
        xs = [e // 1000 for e in edges]
        open_from = xs[-1] if xs else None  # the bucket holding the newest event: more may come
    else:
        rows_open = {b: _open_rows(analytics, engine_here, b, view.window, since,
                                   index.series(b, view.window) if index is not None else None) for b in charted}
        xs, posts, score = _chart(index, rows_open, charted, view.window, step, hopping, since, now)
        ends = [index.series(b, view.window).ends[-1] for b in charted
                if index is not None and index.series(b, view.window).ends]
        width = (xs[1] - xs[0]) * 1000 if len(xs) > 1 else step
        open_from = _open_from(xs, width // 1000, max(ends) if ends else None)
    return {"t": xs, "brands": charted, "posts": posts, "score": score, "open_from": open_from,
            "bucket": width / 1000, "source": "mentions" if view.by_mentions else "windows",
            "covered_from": covered_from // 1000 if covered_from else None,
            "window": {"name": view.window, "size": size / 1000, "step": step / 1000}}


def build(analytics: "Analytics | None", live: "LiveFeed", view: View, index: WindowIndex | None = None) -> dict:
    """The view's snapshot; ``analytics`` None (no analytics plugin): the live parts only. Every
    figure follows every filter: from the windows when the brand is the only one, else from the
    mentions (:mod:`mmstream.web.filtered`), the same source for the headline, table and charts."""
    engine_here = analytics is not None and analytics.owns_engine()
    if analytics is not None and index is None:
        index = WindowIndex(analytics.store)
    recent = live.recent()
    brands, configured = _brand_ids(analytics, engine_here, recent)
    specs = analytics.engine.specs if analytics is not None else []
    spec = next((s for s in specs if s.name == view.window), None)
    tumbling = next((s.name for s in specs if s.size_ms == s.step_ms), view.window)
    closed_of = {b["brand"]: index.series(b["brand"], tumbling) if index is not None else None for b in brands}
    now = newest_event(analytics, [c.ends[-1] for c in closed_of.values() if c is not None and c.ends], recent,
                       engine_here)
    span = RANGES[view.range] * 1000
    since = now - span if now else None
    mentions = filtered.in_range(recent, since)

    covered_from = None
    if view.by_mentions:
        names = {b["brand"]: str(b.get("name") or b["brand"]) for b in brands}
        table = filtered.brand_rows(mentions, view, names, configured)
        covered_from = filtered.coverage(recent, since)
    else:
        table = _window_table(analytics, engine_here, brands, configured, closed_of, tumbling, since, recent)
    everyone = sum(b["posts"] for b in table)
    for b in table:
        b["share_of_voice"] = b["posts"] / everyone if everyone else None
    table.sort(key=lambda b: (-b["posts"], b["brand"]))
    scope = [b for b in table if b["brand"] == view.brand] if view.brand else table  # every figure follows the brand
    charted = [view.brand] if view.brand else [b["brand"] for b in table if b["posts"]][:CHART_BRANDS]
    chart = _chart_of(analytics, engine_here, index, view, charted, spec, mentions, covered_from, since, now)

    by_id = {m["id"]: m for m in recent}
    total = sum(b["posts"] for b in scope)
    negative = sum(b["labels"]["negative"] for b in scope)
    known = sum(b["complaint_known"] for b in scope)
    per_minute = sum(1 for m in mentions if now - 60_000 < m["t"] <= now and view.matches(m)) if view.filtered \
        else live.per_minute(now)
    return {
        "view": view.__dict__, "now": now, "since": since, "engine_here": engine_here,
        "windows": analytics.spec_names if analytics is not None else [view.window], "ranges": list(RANGES),
        "kpis": {"brand_mentions": total, "negative_share": negative / total if total else None,
                 "complaint_share": sum(b["complaints"] for b in scope) / known if known else None,
                 "per_minute": per_minute,
                 "brands": sum(1 for b in scope if b["posts"]) if view.filtered else len(table),
                 "dead_letters": live.dead_letter_summary()["total"],
                 "source": chart["source"], "covered_from": chart["covered_from"]},
        "brands": scope[:MAX_BRANDS], "brands_total": len(scope), "chart": chart,
        "facets": filtered.facets(mentions),
        "topics": _topics(analytics, mentions, view), "alerts": _alerts(analytics, since, view, by_id),
        "dead_letters": live.dead_letter_summary(),
    }


def _share(flags: list[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return sum(known) / len(known) if known else None


def _live_complaints(table: list[dict], recent: list[dict]) -> None:
    """Where windows carry no complaint counts, the share among the recent mentions."""
    flagged: dict[str, list[int]] = {}
    for m in recent:
        if m["complaint"] is not None:
            for brand in m["brands"]:
                counts = flagged.setdefault(brand, [0, 0])
                counts[0] += m["complaint"]
                counts[1] += 1
    for b in table:
        if not b["complaint_known"] and b["brand"] in flagged:
            b["complaints"], b["complaint_known"] = flagged[b["brand"]]
            b["complaint_share"] = b["complaints"] / b["complaint_known"]


def _topics(analytics: "Analytics | None", mentions: list[dict], view: View) -> list[dict]:
    """Active mined topics, with the sentiment of their mentions in range matching the view (but
    its topic: the others stay to pick from)."""
    if analytics is None:
        return []
    stats: dict[str, list] = {}
    others = view.without_topic()
    for m in mentions:
        if not others.matches(m):
            continue
        for t in m["topics"]:
            if t["kind"] == "mined":
                s = stats.setdefault(t["id"], [0, 0.0, 0])
                s[0] += 1
                s[1] += m["score"] or 0.0
                s[2] += m["label"] == "negative"
    out = []
    for topic in analytics.store.topics("active"):
        n, score, neg = stats.get(topic["id"], (0, 0.0, 0))
        if others.filtered and not n and topic["id"] != view.topic:
            continue
        out.append({"id": topic["id"], "label": str(topic.get("label", "")),
                    "keywords": [str(k) for k in topic.get("keywords") or []][:8], "posts": topic.get("posts", 0),
                    "recent": n, "mean_score": score / n if n else None, "negative_share": neg / n if n else None,
                    "last_seen": topic.get("last_seen")})
    out.sort(key=lambda t: (-t["recent"], -t["posts"], t["id"]))
    return out[:MAX_TOPICS]


def _alerts(analytics: "Analytics | None", since: int | None, view: View, by_id: dict[str, dict]) -> list[dict]:
    if analytics is None:
        return []
    rows = analytics.store.alerts(None, None, since, None)
    chosen = []
    for alert in reversed(rows):
        subject = (alert.get("subject") or {}).get("id")
        related = {subject} | {t.get("id") for t in alert.get("top_topics") or []} | \
                  {b.get("id", b.get("brand")) for b in alert.get("top_brands") or [] if isinstance(b, dict)}
        if (view.brand and view.brand not in related) or (view.topic and view.topic not in related):
            continue
        examples = [{"id": pid, "text": (by_id[pid]["text"] or by_id[pid]["ocr_text"]) if pid in by_id else None}
                    for pid in alert.get("example_post_ids") or []]
        chosen.append({**alert, "examples": examples})
        if len(chosen) >= MAX_ALERTS:
            break
    return chosen
