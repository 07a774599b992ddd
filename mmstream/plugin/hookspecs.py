"""Hook specifications: the whole plugin contract of mmstream.

Hooks run once, at startup, and hand back objects. The per-event path then
calls those objects directly; it never goes through ``pm.hook``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.plugin.extractors import Extractor
    from mmstream.settings import Settings
    from mmstream.sinks.base import SinkKind

hookspec = pluggy.HookspecMarker("mmstream")
hookimpl = pluggy.HookimplMarker("mmstream")


@hookspec
def register_extractors(settings: "Settings") -> "list[Extractor]":
    """Return the extractor objects this plugin provides.

    Each extractor names the post keys (modalities) it handles in
    ``extractor.modalities``. Two plugins may not claim the same modality.
    Called once at startup; heavy work (loading an ONNX session) belongs in
    the extractor's constructor or its ``load()`` method.
    """


@hookspec
def register_sink_kinds(settings: "Settings") -> "list[SinkKind]":
    """Return the kinds of database sink this plugin provides (``mmstream sink DSN``).

    Each :class:`mmstream.sinks.SinkKind` names the DSN ``schemes`` it opens
    (``("sqlite",)``) and opens a :class:`mmstream.sinks.SinkStore` for a DSN,
    whose ``write(messages)`` upserts a batch in one transaction; the sink
    commits the batch's Kafka offsets only after it returned. Two plugins may
    not claim the same scheme. The built-in SQLite and PostgreSQL kinds come
    through this hook. Called once, when ``mmstream sink`` starts.
    """
