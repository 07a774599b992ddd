"""A dashboard view: its range (one of :data:`RANGES`, or ``custom`` with ``from``/``to``), window,
filters and search box, read from ``/events``' query (:meth:`View.from_query`, which answers bad
input with a :class:`~mmstream.errors.QueryError` naming the fix: a 400), and which mentions it
matches. Hashable: the hub builds one snapshot per view and tick, whatever the number of pages
watching it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mmstream.errors import QueryError
from mmstream.timefmt import TimeFormatError, to_ms

RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
CUSTOM = "custom"
MAX_CUSTOM_DAYS = 366
MAX_QUERY = 200  # characters of the search box
LABELS = ("negative", "neutral", "positive")
FILTERS = ("brand", "topic", "label", "lang", "platform")
EXAMPLE = "2026-12-07T09:00:00Z"


def parse_bound(name: str, value: str) -> int:
    """``from``/``to`` as epoch ms: ISO 8601 with an offset (``Z`` included); a QueryError otherwise."""
    try:
        return to_ms(value)
    except TimeFormatError:
        raise QueryError(f"'{name}' must be an ISO 8601 time with a UTC offset, e.g. {EXAMPLE}; "
                         f"got {value[:64]!r}") from None


@dataclass(frozen=True)
class View:
    range: str = "1h"
    window: str = "tumbling"
    brand: str = ""
    topic: str = ""
    label: str = ""
    lang: str = ""
    platform: str = ""
    start: int | None = None  # a custom range: epoch ms, (start, end]
    end: int | None = None
    q: str = ""  # the search box (literal, case-insensitive; :mod:`mmstream.web.search`)

    @classmethod
    def from_query(cls, query: Any, windows: list[str]) -> "View":
        fields = {k: str(query.get(k, getattr(cls, k)))[:256] for k in ("range", "window") + FILTERS}
        q = str(query.get("q", ""))
        if len(q) > MAX_QUERY:
            raise QueryError(f"'q' (the search) is at most {MAX_QUERY} characters, got {len(q)}")
        start = end = None
        given = [k for k in ("from", "to") if str(query.get(k, ""))]
        if given or fields["range"] == CUSTOM:
            if len(given) != 2:
                raise QueryError(f"a custom range needs both 'from' and 'to' (ISO 8601 with a UTC offset, "
                                 f"e.g. from={EXAMPLE}&to=2026-12-07T10:00:00Z)")
            start, end = parse_bound("from", str(query["from"])), parse_bound("to", str(query["to"]))
            if start >= end:
                raise QueryError(f"'from' must be before 'to' (got from={query['from']!r}, to={query['to']!r})")
            if end - start > MAX_CUSTOM_DAYS * 86_400_000:
                raise QueryError(f"a custom range is at most {MAX_CUSTOM_DAYS} days long")
            fields["range"] = CUSTOM
        view = cls(**fields, start=start, end=end, q=q.strip())
        if view.range not in RANGES and view.range != CUSTOM:
            raise QueryError(f"'range' must be one of {', '.join(RANGES)} or {CUSTOM} (with from and to), "
                             f"got {view.range!r}")
        if view.window not in windows:
            raise QueryError(f"'window' must be one of {', '.join(windows)}, got {view.window!r}")
        if view.label not in ("",) + LABELS:
            raise QueryError(f"'label' must be one of {', '.join(LABELS)} or empty, got {view.label!r}")
        return view

    def bounds(self, newest: int) -> tuple[int | None, int]:
        """``(since, until)`` in ms: a custom range as given; else the range's length before the newest
        event (``since`` None before any event)."""
        if self.range == CUSTOM and self.start is not None and self.end is not None:
            return self.start, self.end
        return (newest - RANGES[self.range] * 1000 if newest else None), newest

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

    def public(self) -> dict:
        """The view as the page reads it back (``from``/``to`` as given, in ms)."""
        out = {k: getattr(self, k) for k in ("range", "window", "q") + FILTERS}
        out.update({"from": self.start, "to": self.end})
        return out
