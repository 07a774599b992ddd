"""The engine partitions one worker holds, and one view over them.

A worker holds the engines of the ``<prefix>mentions`` partitions the consumer
group gave it (:mod:`mmstream.analytics.engine.routing`): each with its own state, next
offset, checkpoints (``<data_dir>/<app_id>-analytics/p<k>/``) and replays. An
engine stays in memory when its partition goes to another worker; if the
partition comes back, the offset tells whether it can go on, must replay the
records it missed (from its checkpoint, if newer) or start over.

:class:`EngineGroup` answers what the pages and metrics ask of "the engine":
open windows of a brand (from the engine of the brand's partition, when it is
here), summed counters, the least watermark.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.routing import engine_partition
from mmstream.analytics.engine.windows import window_specs
from mmstream.analytics.state.checkpoint import Checkpoints
from mmstream.settings import Settings

_SUMMED = ("mentions", "duplicates", "late", "windows_closed", "alerts", "topic_records")


@dataclass
class EnginePartition:
    partition: int
    engine: AnalyticsEngine
    checkpoints: Checkpoints
    since_checkpoint: int = 0  # mentions processed since the last checkpoint
    writing: Any = None  # the checkpoint write in flight (a future), if any
    replays: list[dict] = field(default_factory=list)


class EngineGroup:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.partitions = max(1, settings.analytics_partitions)
        self.specs = window_specs(settings)
        self.held: dict[int, EnginePartition] = {}

    def get(self, partition: int) -> EnginePartition:
        held = self.held.get(partition)
        if held is None:
            held = self.held[partition] = EnginePartition(partition, AnalyticsEngine(self.settings, partition),
                                                          Checkpoints(self.settings, partition))
        return held

    def engine(self, partition: int) -> AnalyticsEngine:
        return self.get(partition).engine

    # -- what "the engine" answers ------------------------------------------------
    @property
    def next_offset(self) -> int:
        """Mentions records processed by the engines here (their next offsets, summed)."""
        return sum(h.engine.next_offset for h in self.held.values())

    def open_windows(self, brand: str, spec_name: str) -> list[dict]:
        held = self.held.get(engine_partition(brand, self.partitions))
        return held.engine.open_windows(brand, spec_name) if held is not None else []

    def describe(self) -> dict:
        parts = {p: h.engine.describe() for p, h in sorted(self.held.items())}
        marks = [d["watermark"] for d in parts.values() if d["watermark"] is not None]
        out: dict[str, Any] = {k: sum(d[k] for d in parts.values()) for k in _SUMMED}
        out.update({"next_offset": self.next_offset, "watermark": min(marks) if marks else None,
                    "open_brands": sorted({b for d in parts.values() for b in d["open_brands"]}),
                    "active_topics": sum(d["active_topics"] for d in parts.values()),
                    "partitions_here": sorted(parts), "partitions": {str(p): d for p, d in parts.items()}})
        return out
