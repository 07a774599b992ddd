"""What a worker's HTTP queries read: closed windows, topics and alerts, as
read back from ``<prefix>brand-stats``, ``<prefix>topics`` and
``<prefix>alerts`` by the feed (every worker reads them all, so any worker
answers any query). Bounded: windows and alerts older than ``analytics_keep``
seconds of event time before the newest are dropped. Thread-safe.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from mmstream.analytics.engine.brands import BrandCatalog
from mmstream.analytics.engine.topicspace import SPACE_ID
from mmstream.timefmt import to_ms


class QueryStore:
    def __init__(self, catalog: BrandCatalog | None, keep_seconds: float) -> None:
        self.catalog = catalog
        self.keep_ms = int(keep_seconds * 1000)
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], dict[int, dict]] = {}
        self._topics: dict[str, dict] = {}
        self._alerts: dict[str, dict] = {}
        self._posts: Counter = Counter()  # per brand, over closed tumbling windows kept
        self._newest = 0

    # -- fed by the feed thread ------------------------------------------------
    def add_window(self, record: dict) -> None:
        start, end = to_ms(record["window"]["start"]), to_ms(record["window"]["end"])
        with self._lock:
            windows = self._windows.setdefault((record["brand"], record["window"]["name"]), {})
            if start not in windows and record["window"]["name"] == "tumbling":
                self._posts[record["brand"]] += record["posts"]
            windows[start] = {**record, "_end": end}
            if end > self._newest:
                self._newest = end
                self._prune()

    def add_topic(self, record: dict) -> None:
        if record.get("id") == SPACE_ID:
            return
        with self._lock:
            self._topics[record["id"]] = {k: v for k, v in record.items() if k not in ("centroid", "type")}

    def add_alert(self, record: dict) -> None:
        with self._lock:
            self._alerts[record["id"]] = {**record, "_end": to_ms(record["window"]["end"])}

    def _prune(self) -> None:
        horizon = self._newest - self.keep_ms
        for (brand, name), windows in self._windows.items():
            for start in [s for s, r in windows.items() if r["_end"] < horizon]:
                if name == "tumbling":
                    self._posts[brand] -= windows[start]["posts"]
                del windows[start]
        for key in [k for k, a in self._alerts.items() if a["_end"] < horizon]:
            del self._alerts[key]

    # -- queries -----------------------------------------------------------------
    def brands(self) -> list[dict]:
        configured = self.catalog.describe() if self.catalog else []
        with self._lock:
            seen = {brand for brand, _ in self._windows}
            out = []
            for entry in configured + [{"brand": b, "name": b, "aliases": []} for b in sorted(seen)]:
                if any(o["brand"] == entry["brand"] for o in out):
                    continue
                tumbling = self._windows.get((entry["brand"], "tumbling"), {})
                out.append({**entry, "configured": entry in configured, "posts": self._posts[entry["brand"]],
                            "closed_windows": tumbling and len(tumbling) or 0,
                            "last_window_end": max((r["window"]["end"] for r in tumbling.values()), default=None)})
            return out

    def seen_brands(self) -> list[str]:
        """Brands with windows kept (cheap: without the per-brand figures of :meth:`brands`)."""
        with self._lock:
            return sorted({brand for brand, _ in self._windows})

    def window_version(self, brand: str, name: str) -> tuple[int, int | None]:
        """(count, start of the window added last) of a brand's windows: it changes whenever
        they do (a re-sent window is the same window), so a cache knows when to refresh."""
        with self._lock:
            windows = self._windows.get((brand, name))
            return (len(windows), next(reversed(windows))) if windows else (0, None)

    def windows(self, brand: str, name: str, since: int | None, until: int | None) -> list[dict]:
        with self._lock:
            records = list(self._windows.get((brand, name), {}).items())
        return [_public(r) for start, r in sorted(records)
                if (until is None or start < until) and (since is None or r["_end"] > since)]

    def topics(self, status: str | None) -> list[dict]:
        with self._lock:
            topics = list(self._topics.values())
        chosen = [t for t in topics if status in (None, "all") or t.get("status") == status]
        return sorted(chosen, key=lambda t: (-t.get("posts", 0), t["id"]))

    def topic(self, tid: str) -> dict | None:
        with self._lock:
            return self._topics.get(tid)

    def alerts(self, kind: str | None = None, subject: str | None = None, since: int | None = None,
               until: int | None = None) -> list[dict]:
        with self._lock:
            alerts = list(self._alerts.values())
        out = [_public(a) for a in alerts
               if (kind is None or a["kind"] == kind) and (subject is None or a["subject"]["id"] == subject)
               and (since is None or a["_end"] > since) and (until is None or a["_end"] <= until)]
        return sorted(out, key=lambda a: (a["window"]["end"], a["id"]))


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}
