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

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mmstream.errors import PostError
from mmstream.pipeline.post import parse_created_at

if TYPE_CHECKING:
    from mmstream.analytics.service import Analytics
    from mmstream.web.live import LiveFeed

RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
MAX_POINTS = 120
CHART_BRANDS = 8
MAX_BRANDS = 200
MAX_TOPICS = 20
MAX_ALERTS = 30
LABELS = ("negative", "neutral", "positive")


class BadView(ValueError):
    """A view parameter is wrong (answered 400)."""


@dataclass(frozen=True)
class View:
    range: str = "1h"
    window: str = "tumbling"
    brand: str = ""
    topic: str = ""
    label: str = ""

    @classmethod
    def from_query(cls, query: Any, windows: list[str]) -> "View":
        view = cls(**{k: str(query.get(k, getattr(cls, k)))[:256] for k in ("range", "window", "brand", "topic", "label")})
        if view.range not in RANGES:
            raise BadView(f"'range' must be one of {', '.join(RANGES)}, got {view.range!r}")
        if view.window not in windows:
            raise BadView(f"'window' must be one of {', '.join(windows)}, got {view.window!r}")
        if view.label not in ("",) + LABELS:
            raise BadView(f"'label' must be one of {', '.join(LABELS)} or empty, got {view.label!r}")
        return view

    def matches(self, mention: dict) -> bool:
        return ((not self.brand or self.brand in mention["brands"])
                and (not self.label or mention["label"] == self.label)
                and (not self.topic or any(t["id"] == self.topic for t in mention["topics"])))


@lru_cache(maxsize=200_000)
def ms(iso: str) -> int:
    try:
        return int(round(parse_created_at(iso).timestamp() * 1000))
    except PostError:
        return 0


def _windows(analytics: "Analytics | None", brand: str, name: str, since: int | None, engine_here: bool) -> list[dict]:
    if analytics is None:
        return []
    rows = analytics.store.windows(brand, name, since, None)
    if engine_here:
        starts = {r["window"]["start"] for r in rows}
        rows += [r for r in analytics.engine.open_windows(brand, name)
                 if r["window"]["start"] not in starts and (since is None or ms(r["window"]["end"]) > since)]
    return rows


def _brand_ids(analytics: "Analytics | None", engine_here: bool, recent: list[dict]) -> tuple[list[dict], set[str]]:
    listed = analytics.store.brands() if analytics is not None else []
    known = {b["brand"] for b in listed}
    extra: set[str] = set()
    if engine_here:
        extra |= set(analytics.engine.describe().get("open_brands", []))
    for mention in recent[-500:]:
        extra |= set(mention["brands"])
    for brand in sorted(extra - known):
        listed.append({"brand": brand, "name": brand, "aliases": [], "configured": False})
    return listed, {b["brand"] for b in listed if b.get("configured")}


def newest_event(analytics: "Analytics | None", brands: list[dict], recent: list[dict], engine_here: bool) -> int:
    newest = max((ms(b["last_window_end"]) for b in brands if b.get("last_window_end")), default=0)
    newest = max([newest] + [m["t"] or 0 for m in recent[-200:]])
    if engine_here:
        newest = max(newest, int(analytics.engine.describe().get("watermark") or 0))
    return newest


def _bucketed(rows: list[dict], spec_step: int, span: tuple[int, int]) -> dict[int, tuple[int, float, int]]:
    """Window rows -> {bucket time (s): (posts, score sum, negative)}: tumbling
    windows summed into buckets; hopping windows (they overlap) sampled, one per bucket."""
    since, until = span
    width = max(spec_step, -(-(until - since) // MAX_POINTS // spec_step) * spec_step)
    out: dict[int, tuple[int, float, int]] = {}
    for row in rows:
        end = ms(row["window"]["end"])
        start = ms(row["window"]["start"])
        size = end - start
        key = ((end if size > spec_step else start) // width) * width // 1000
        posts = int(row.get("posts") or 0)
        score = float(row.get("mean_score") or 0.0) * posts
        negative = int((row.get("labels") or {}).get("negative", 0))
        if size > spec_step:  # hopping: keep the latest window of the bucket
            out[key] = (posts, score, negative)
        else:
            old = out.get(key, (0, 0.0, 0))
            out[key] = (old[0] + posts, old[1] + score, old[2] + negative)
    return out


def build(analytics: "Analytics | None", live: "LiveFeed", view: View) -> dict:
    """The view's snapshot; ``analytics`` None (no analytics plugin): the live parts only."""
    engine_here = analytics is not None and analytics.owns_engine()
    recent = live.recent()
    brands, configured = _brand_ids(analytics, engine_here, recent)
    now = newest_event(analytics, brands, recent, engine_here)
    span = RANGES[view.range] * 1000
    since = now - span if now else None
    specs = analytics.engine.specs if analytics is not None else []
    spec = next((s for s in specs if s.name == view.window), None)
    step = spec.step_ms if spec is not None else 60_000
    tumbling = next((s.name for s in specs if s.size_ms == s.step_ms), view.window)

    table, series = [], {}
    for entry in brands:
        brand = entry["brand"]
        rows = _windows(analytics, brand, tumbling, since, engine_here)
        posts = sum(int(r.get("posts") or 0) for r in rows)
        labels = {label: sum(int((r.get("labels") or {}).get(label, 0)) for r in rows) for label in LABELS}
        complaints = [r["complaints"] for r in rows if isinstance(r.get("complaints"), (int, float))]
        score = sum(float(r.get("mean_score") or 0.0) * int(r.get("posts") or 0) for r in rows)
        table.append({"brand": brand, "name": str(entry.get("name") or brand), "configured": brand in configured,
                      "posts": posts, "labels": labels, "mean_score": score / posts if posts else None,
                      "negative_share": labels["negative"] / posts if posts else None,
                      "complaint_share": sum(complaints) / posts if posts and complaints else None})
    total = sum(b["posts"] for b in table)
    for b in table:
        b["share_of_voice"] = b["posts"] / total if total else None
    table.sort(key=lambda b: (-b["posts"], b["brand"]))
    _live_complaints(table, recent)

    charted = [view.brand] if view.brand else [b["brand"] for b in table if b["posts"]][:CHART_BRANDS]
    times: set[int] = set()
    for brand in charted:
        rows = _windows(analytics, brand, view.window, since, engine_here)
        series[brand] = _bucketed(rows, step, (since or 0, now))
        times |= set(series[brand])
    xs = sorted(times)
    chart = {"t": xs, "brands": charted,
             "posts": [[series[b].get(x, (None,))[0] for x in xs] for b in charted],
             "score": [[(series[b][x][1] / series[b][x][0]) if series[b].get(x, (0,))[0] else None for x in xs]
                       for b in charted],
             "window": {"name": view.window, "size": (spec.size_ms if spec else step) / 1000, "step": step / 1000}}

    by_id = {m["id"]: m for m in recent}
    negative = sum(b["labels"]["negative"] for b in table)
    return {
        "view": view.__dict__, "now": now, "since": since, "engine_here": engine_here,
        "windows": analytics.spec_names if analytics is not None else [view.window], "ranges": list(RANGES),
        "kpis": {"brand_mentions": total, "negative_share": negative / total if total else None,
                 "complaint_share": _share([m["complaint"] for m in recent if view.matches(m)]),
                 "per_minute": live.per_minute(now), "brands": len(table),
                 "dead_letters": live.dead_letter_summary()["total"]},
        "brands": table[:MAX_BRANDS], "brands_total": len(table), "chart": chart,
        "topics": _topics(analytics, recent, view), "alerts": _alerts(analytics, since, view, by_id),
        "dead_letters": live.dead_letter_summary(),
    }


def _share(flags: list[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return sum(known) / len(known) if known else None


def _live_complaints(table: list[dict], recent: list[dict]) -> None:
    """Where windows carry no complaint counts, the share among the recent mentions."""
    for b in table:
        if b["complaint_share"] is None:
            b["complaint_share"] = _share([m["complaint"] for m in recent if b["brand"] in m["brands"]])


def _topics(analytics: "Analytics | None", recent: list[dict], view: View) -> list[dict]:
    if analytics is None:
        return []
    stats: dict[str, list] = {}
    for m in recent:
        if view.brand and view.brand not in m["brands"]:
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
        if view.brand and not n and topic["id"] != view.topic:
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
