"""What a micro-batch carries through the stages: each record's :class:`WorkItem`, where it
came from (:class:`Source`), and a batch between extraction and the model (:class:`Extracted`).

These are the engine's own, mutable types. Plugins never see them: enrichers and sinks get
a read-only :class:`mmstream.plugin.Item` over a work item.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmstream.errors import PostError
from mmstream.inference.fused import Prediction
from mmstream.pipeline.post import Post


@dataclass(frozen=True)
class Source:
    """Where a record came from in Kafka."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None = None  # the record's Kafka timestamp, epoch seconds (None: use the clock)


@dataclass
class WorkItem:
    """One record on its way to an outcome; the stages fill it in (decode, extract, model, enrich)."""

    raw: bytes
    source: Source | None
    post: Post | None = None
    error: PostError | None = None  # set by the first stage that fails the post: it is then dead-lettered
    features: dict[str, np.ndarray] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)  # values the next extraction round reads
    obj: Any = None  # the decoded JSON (a dead letter's id comes from it)
    prediction: Prediction | None = None
    record: dict[str, Any] | None = None  # the result being built
    values: dict[str, Any] = field(default_factory=dict)  # every extracted value, derived ones too
    #: the pipeline's text views (Extractor.text_views), the post's own text first
    text_views: tuple[str, ...] = ()
    done: set[str] = field(default_factory=set)  # enrichers that finished this item (a retry skips them)

    def texts(self) -> dict[str, str]:
        """The post's text by text view: its own, then text read or heard in its media."""
        return {v: t for v in self.text_views if isinstance(t := self.values.get(v), str)}


@dataclass
class Extracted:
    """A batch after :meth:`Pipeline.extract <mmstream.pipeline.batch.Pipeline.extract>`: its items,
    and the unexpected exception that stopped extraction (a bug; ``finish`` then redoes the items
    one by one)."""

    work: list[WorkItem]
    failure: Exception | None = None
