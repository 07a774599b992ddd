"""Hook specifications: the whole plugin contract of mmstream.

Hooks run once, at startup, and hand back objects. The per-event path then
calls those objects directly; it never goes through ``pm.hook``. Every hook is
documented, with this exact signature, in ``docs/plugins.md``
(``tests/test_plugin_docs.py`` keeps the two equal). A hook implementation
may take any subset of its hook's arguments.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    from mmstream.inference.fused import FusedModel
    from mmstream.pipeline.batch import Pipeline
    from mmstream.plugin.context import WorkerContext
    from mmstream.plugin.extractors import Extractor
    from mmstream.plugin.stages import Enricher, Sink
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
def register_enrichers(settings: "Settings", model: "FusedModel", context: "WorkerContext") -> "list[Enricher]":
    """Return the enrichers this plugin adds after the model, in the order they run.

    ``model`` is the loaded fused model (``model.topic_labels`` ...); ``context`` says where the
    pipeline runs (``context.mode``: ``"worker"``, or ``"offline"`` in ``score``, ``eval``, ``bench``)
    and, in a worker, adds agents, tasks and shutdown steps (:mod:`mmstream.plugin.context`).
    Built-in enrichers (brands, topics) run first, then plugins' in load order.
    """


@hookspec
def register_sinks(settings: "Settings", context: "WorkerContext") -> "list[Sink]":
    """Return the sinks this plugin adds: where final results go besides the
    enriched topic. ``context.mode`` is ``"worker"`` in a worker, ``"offline"`` off Kafka."""


@hookspec
def register_routes(context: "WorkerContext", settings: "Settings",
                    pipeline: "Pipeline") -> "list[tuple[str, Callable]]":
    """Return ``(path, view)`` pairs for the worker's web server (worker only).

    ``view`` is ``async def view(web, request, **params)`` returning a response,
    e.g. ``web.json({...})``; path parameters are written ``/things/{name}``.
    Each pair is added with ``context.add_route`` (a plugin may call it itself in ``extend_worker``).
    """


@hookspec
def extend_worker(context: "WorkerContext", settings: "Settings", pipeline: "Pipeline") -> None:
    """Add agents, tasks, timers, shutdown steps or routes to the worker through ``context``
    (``add_agent``, ``add_task``, ``add_timer``, ``on_shutdown``, ``add_route``), once, after its
    pipeline is built and before the worker starts (worker only)."""


@hookspec
def register_commands(subparsers: "argparse._SubParsersAction") -> None:
    """Add sub-commands to the ``mmstream`` command line:
    ``p = subparsers.add_parser(name, help=...)``, then
    ``p.set_defaults(func=handler)`` where ``handler(args) -> int`` (the exit status)."""


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
