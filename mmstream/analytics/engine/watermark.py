"""The event-time watermark, per input partition.

Partitions of ``<prefix>posts`` are read at different paces (by different
workers, after a rebalance, through a backlog), so the largest ``created_at``
seen anywhere says nothing about what a slower partition will still deliver:
with it, a backfill read through 4 partitions sent 73 % of its posts to
``late``. Here each input partition (the mention's ``src``) keeps the largest
event time seen from it, and the watermark is the **minimum over the active
partitions**, never moving back. A partition is *active* until it has sent no
mention for ``idle`` seconds of processing time (the mention's ``pt``: when its
worker published it, a time stored in the log, so a replay gives the same
watermark); an idle partition stops holding the watermark back, and joins again
with its next mention. The input partitions expected (``partitions``: the
posts topic's count) are known from the first mention on: one not heard from
yet holds the watermark back too, until it has been silent for ``idle``
seconds since that first mention (a backfill's partitions start at different
moments as well).

Mentions without a source (``mmstream score``, tests of the pure math) share
one pseudo-partition: the watermark is then the largest event time seen, as
before. The future is bounded upstream: a ``created_at`` over
``MMSTREAM_MAX_FUTURE`` ahead of its record's Kafka timestamp is dead-lettered
(``future_created_at``) before it can reach a window.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Source:
    event_ms: int | None  # the largest event time seen from this partition (None: nothing yet)
    seen_ms: int  # processing time of its last mention


class Watermarks:
    def __init__(self, idle_ms: int | None = None, partitions: int = 0) -> None:
        self.idle_ms = idle_ms  # None: a partition never goes idle
        self.partitions = partitions  # input partitions expected, "0" .. "partitions - 1"
        self.sources: dict[str, _Source] = {}
        self.now_ms: int | None = None  # the latest processing time seen
        self.value: int | None = None

    def observe(self, source: str, t_ms: int, pt_ms: int | None) -> int | None:
        """Account for a mention of ``source`` at event time ``t_ms`` processed at ``pt_ms``
        (None: unknown, taken as the latest seen); the watermark after it (None until every
        expected partition has been heard from or gone idle)."""
        if pt_ms is None:
            pt_ms = self.now_ms if self.now_ms is not None else 0
        if self.now_ms is None or pt_ms > self.now_ms:
            self.now_ms = pt_ms
        if not self.sources and source != "-":
            for p in range(self.partitions):
                self.sources[str(p)] = _Source(None, pt_ms)
        entry = self.sources.get(source)
        if entry is None:
            self.sources[source] = _Source(t_ms, pt_ms)
        else:
            entry.event_ms = t_ms if entry.event_ms is None else max(entry.event_ms, t_ms)
            entry.seen_ms = max(entry.seen_ms, pt_ms)
        low = self._minimum()
        if low is not None and (self.value is None or low > self.value):
            self.value = low
        return self.value

    def _minimum(self) -> int | None:
        """The least event time over the active partitions (None: one has sent nothing yet)."""
        now, idle = self.now_ms or 0, self.idle_ms
        active = [s.event_ms for s in self.sources.values() if idle is None or now - s.seen_ms <= idle]
        if not active:
            return max((s.event_ms for s in self.sources.values() if s.event_ms is not None), default=None)
        return None if None in active else min(active)  # type: ignore[type-var]

    def describe(self) -> dict:
        now, idle = self.now_ms or 0, self.idle_ms
        return {str(k): {"event_ms": s.event_ms, "idle": idle is not None and now - s.seen_ms > idle}
                for k, s in sorted(self.sources.items())}
