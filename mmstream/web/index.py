"""Closed windows of each brand as sorted arrays with prefix sums, so a
dashboard range or chart bucket costs a binary search, not a pass over a
week of windows: :class:`WindowIndex`.

An entry is rebuilt from the query store only when the store's
``window_version`` of that brand and window changed (about once a window
length per brand); everything else reads the arrays. Thread-safe.
"""
from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING

from mmstream.timefmt import TimeFormatError, to_ms

if TYPE_CHECKING:
    from mmstream.analytics.serving.store import QueryStore

LABELS = ("negative", "neutral", "positive")


@lru_cache(maxsize=200_000)
def ms(iso: str) -> int:
    try:
        return to_ms(iso)
    except TimeFormatError:
        return 0


@dataclass
class Sums:
    posts: int = 0
    score: float = 0.0  # mean score times posts, summed
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    complaints: int = 0
    with_complaints: int = 0  # windows that carried a complaint count
    duplicates: int = 0  # posts with a duplicate_of (retweets, copies)
    with_duplicates: int = 0  # windows that carried a duplicate count (older ones did not)

    def add_row(self, row: dict) -> None:
        posts = int(row.get("posts") or 0)
        self.posts += posts
        self.score += float(row.get("mean_score") or 0.0) * posts
        for label in LABELS:
            self.labels[label] += int((row.get("labels") or {}).get(label, 0))
        if isinstance(row.get("complaints"), (int, float)):
            self.complaints += int(row["complaints"])
            self.with_complaints += 1
        if isinstance(row.get("duplicates"), (int, float)):
            self.duplicates += int(row["duplicates"])
            self.with_duplicates += 1


class Series:
    """One brand's closed windows of one spec: starts, ends, prefix sums."""

    def __init__(self, rows: list[dict]) -> None:
        rows = sorted(rows, key=lambda r: ms(r["window"]["start"]))
        self.starts = [ms(r["window"]["start"]) for r in rows]
        self.ends = [ms(r["window"]["end"]) for r in rows]
        self.rows = rows
        posts = [int(r.get("posts") or 0) for r in rows]
        self.posts = [0, *accumulate(posts)]
        self.score = [0.0, *accumulate(float(r.get("mean_score") or 0.0) * p for r, p in zip(rows, posts))]
        self.labels = {label: [0, *accumulate(int((r.get("labels") or {}).get(label, 0)) for r in rows)]
                       for label in LABELS}
        complaints = [r.get("complaints") for r in rows]
        self.complaints = [0, *accumulate(int(c) if isinstance(c, (int, float)) else 0 for c in complaints)]
        self.with_complaints = [0, *accumulate(isinstance(c, (int, float)) for c in complaints)]
        copies = [r.get("duplicates") for r in rows]
        self.duplicates = [0, *accumulate(int(c) if isinstance(c, (int, float)) else 0 for c in copies)]
        self.with_duplicates = [0, *accumulate(isinstance(c, (int, float)) for c in copies)]

    def sums(self, lo: int, hi: int) -> Sums:
        """Windows ``lo:hi`` (positions) summed."""
        return Sums(self.posts[hi] - self.posts[lo], self.score[hi] - self.score[lo],
                    {label: self.labels[label][hi] - self.labels[label][lo] for label in LABELS},
                    self.complaints[hi] - self.complaints[lo], self.with_complaints[hi] - self.with_complaints[lo],
                    self.duplicates[hi] - self.duplicates[lo], self.with_duplicates[hi] - self.with_duplicates[lo])

    def since(self, since: int | None) -> int:
        """Position of the first window ending after ``since``."""
        return 0 if since is None else bisect_right(self.ends, since)

    def before(self, until: int | None) -> int:
        """Position after the last window starting before ``until`` (all of them when None)."""
        return len(self.starts) if until is None else bisect_left(self.starts, until)

    def starting(self, lo: int, hi: int) -> tuple[int, int]:
        """Positions of the windows starting in ``[lo, hi)``."""
        return bisect_left(self.starts, lo), bisect_left(self.starts, hi)

    def last_ending_in(self, lo: int, hi: int) -> int | None:
        """Position of the last window ending in ``[lo, hi)``, or None."""
        i = bisect_left(self.ends, hi) - 1
        return i if i >= 0 and self.ends[i] >= lo else None


class WindowIndex:
    def __init__(self, store: "QueryStore") -> None:
        self.store = store
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], tuple[tuple, Series]] = {}
        self.rebuilds = 0

    def series(self, brand: str, name: str) -> Series:
        version = self.store.window_version(brand, name)
        with self._lock:
            cached = self._series.get((brand, name))
        if cached is not None and cached[0] == version:
            return cached[1]
        built = Series(self.store.windows(brand, name, None, None))
        with self._lock:
            self._series[(brand, name)] = (version, built)
            self.rebuilds += 1
        return built
