"""A dashboard view: its range, window and filters, read from ``/events``' query
(:meth:`View.from_query`), and which mentions it matches. Hashable: the hub builds one
snapshot per view and tick, whatever the number of pages watching it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mmstream.errors import QueryError

RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
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
