"""What one dashboard view shows, as one JSON-able dict: :func:`build`.

Inputs: the analytics' query store (closed windows, topics, alerts, read back
from the output topics, so every worker has them), the engine's open windows
(only on the worker that runs the engine), and the live rings of
:class:`mmstream.web.live.LiveFeed`. Times are event time: a range ("last hour")
ends at the newest event seen, not at the wall clock, so a replayed or delayed
stream reads the same.

Bounded whatever the data: charts (:mod:`mmstream.web.charts`) hold at most
:data:`~mmstream.web.charts.CHART_BRANDS` brands and
:data:`~mmstream.web.charts.MAX_POINTS` points each (windows merged into buckets), the brand table
:data:`MAX_BRANDS` rows, topics and alerts a few dozen.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from mmstream.web import copies, filtered, periods
from mmstream.web.authors import top_authors
from mmstream.web.charts import CHART_BRANDS, chart_of, open_rows
from mmstream.web.index import Series, Sums, WindowIndex
from mmstream.web.search import search
from mmstream.web.view import CUSTOM, RANGES, View

__all__ = ["RANGES", "View", "build"]

if TYPE_CHECKING:
    from mmstream.analytics.pipeline.service import Analytics
    from mmstream.web.live import LiveFeed

MAX_BRANDS = 200
MAX_TOPICS = 20
MAX_ALERTS = 30


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


def _window_table(analytics: "Analytics | None", engine_here: bool, brands: list[dict], configured: set[str],
                  closed_of: dict[str, Series | None], tumbling: str, since: int | None,
                  recent: list[dict], until: int | None = None) -> list[dict]:
    """The brand table from the windows (closed ones read back, open ones from the engine) that end
    after ``since`` and start before ``until`` (None: no end)."""
    table = []
    for entry in brands:
        brand = entry["brand"]
        closed = closed_of[brand]
        if closed is not None:
            lo = closed.since(since)
            total = closed.sums(lo, max(lo, closed.before(until)))
        else:
            total = Sums()
        for row in open_rows(analytics, engine_here, brand, tumbling, since, closed, until):
            total.add_row(row)
        posts = total.posts
        known = posts if total.with_complaints else 0
        table.append({"brand": brand, "name": str(entry.get("name") or brand), "configured": brand in configured,
                      "posts": posts, "labels": total.labels, "mean_score": total.score / posts if posts else None,
                      "negative_share": total.labels["negative"] / posts if posts else None,
                      "complaints": total.complaints if known else 0, "complaint_known": known,
                      "complaint_share": total.complaints / posts if known else None,
                      "duplicates": total.duplicates if total.with_duplicates else None,
                      "duplicate_share": total.duplicates / posts if total.with_duplicates and posts else None})
    _live_complaints(table, recent)
    return table


def build(analytics: "Analytics | None", live: "LiveFeed", view: View, index: WindowIndex | None = None) -> dict:
    """The view's snapshot; ``analytics`` None (no analytics plugin): the live parts only. Every
    figure follows every filter: from the windows when the brand is the only one, else from the
    mentions (:mod:`mmstream.web.filtered`), the same source for the headline, table and charts,
    and for the previous period's (:mod:`mmstream.web.periods`)."""
    engine_here = analytics is not None and analytics.owns_engine()
    if analytics is not None and index is None:
        index = WindowIndex(analytics.store)
    recent = live.recent()
    brands, configured = _brand_ids(analytics, engine_here, recent)
    specs = analytics.engine.specs if analytics is not None else []
    spec = next((s for s in specs if s.name == view.window), None)
    tumbling = next((s.name for s in specs if s.size_ms == s.step_ms), view.window)
    closed_of = {b["brand"]: index.series(b["brand"], tumbling) if index is not None else None for b in brands}
    newest = newest_event(analytics, [c.ends[-1] for c in closed_of.values() if c is not None and c.ends], recent,
                          engine_here)
    since, now = view.bounds(newest)
    custom = view.range == CUSTOM
    mentions = filtered.in_range(recent, since, now if custom else None)
    names = {b["brand"]: str(b.get("name") or b["brand"]) for b in brands}

    def table_of(lo: int | None, hi: int | None, ranged: list[dict]) -> list[dict]:
        if view.by_mentions:
            return filtered.brand_rows(ranged, view, names, configured)
        return _window_table(analytics, engine_here, brands, configured, closed_of, tumbling, lo, ranged, hi)

    covered_from = filtered.coverage(recent, since) if view.by_mentions else None
    table = table_of(since, now if custom else None, recent if not view.by_mentions and not custom else mentions)
    everyone = sum(b["posts"] for b in table)
    for b in table:
        b["share_of_voice"] = b["posts"] / everyone if everyone else None
    table.sort(key=lambda b: (-b["posts"], b["brand"]))
    scope = [b for b in table if b["brand"] == view.brand] if view.brand else table  # every figure follows the brand
    with_posts = [b["brand"] for b in table if b["posts"]]
    charted = [view.brand] if view.brand else with_posts[:CHART_BRANDS]
    chart = chart_of(analytics, engine_here, index, view, charted, spec, mentions, covered_from, since, now,
                     with_posts[:MAX_BRANDS], live=now >= newest)

    by_id = {m["id"]: m for m in recent}
    headline = periods.headline(scope)
    previous = _previous(view, table_of, recent, closed_of, since, now)
    per_minute = sum(1 for m in mentions if now - 60_000 < m["t"] <= now and view.matches(m)) \
        if view.filtered or custom else live.per_minute(now)
    alerts = _alerts(analytics, since, view, by_id, now if custom else None)
    return {
        "view": view.public(), "now": now, "since": since, "newest": newest, "engine_here": engine_here,
        "windows": analytics.spec_names if analytics is not None else [view.window], "ranges": list(RANGES),
        "kpis": {**headline, "per_minute": per_minute,
                 "brands": sum(1 for b in scope if b["posts"]) if view.filtered else len(table),
                 "dead_letters": live.dead_letter_summary()["total"],
                 "source": chart["source"], "covered_from": chart["covered_from"], "previous": previous,
                 "change": periods.change(headline, previous["figures"] if previous["covered"] else None)},
        "brands": scope[:MAX_BRANDS], "brands_total": len(scope), "chart": chart,
        "facets": filtered.facets(mentions),
        "topics": _topics(analytics, mentions, view), "alerts": alerts,
        "search": search(mentions, view, filtered.coverage(recent, since)),
        "authors": top_authors(mentions, view, filtered.coverage(recent, since)),
        "campaigns": copies.campaigns(mentions, view, alerts),
        "duplicates": copies.duplicate_shares(scope),
        "dead_letters": live.dead_letter_summary(),
    }


def _previous(view: View, table_of, recent: list[dict], closed_of: dict[str, Series | None],
              since: int | None, until: int) -> dict:
    """The headline of the period of the same length before the range, when the source reaches back
    over it (the windows: the earliest closed window; the mentions: the ring's oldest)."""
    if since is None:
        return {"covered": False, "since": None, "until": None, "figures": None}
    lo, hi = periods.previous(since, until)
    if view.by_mentions:
        oldest = min((m["t"] for m in recent if m["t"] is not None), default=None)
    else:
        oldest = min((c.starts[0] for c in closed_of.values() if c is not None and c.starts), default=None)
    out = {"covered": periods.covered(oldest, lo), "since": lo // 1000, "until": hi // 1000, "figures": None}
    if out["covered"]:
        rows = table_of(lo, hi, filtered.in_range(recent, lo, hi))
        out["figures"] = periods.headline([b for b in rows if b["brand"] == view.brand] if view.brand else rows)
    return out


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


def _alerts(analytics: "Analytics | None", since: int | None, view: View, by_id: dict[str, dict],
            until: int | None = None) -> list[dict]:
    if analytics is None:
        return []
    rows = analytics.store.alerts(None, None, since, until)
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
