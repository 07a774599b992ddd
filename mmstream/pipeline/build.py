"""The one place a pipeline is built: plugins (once), the fused model, then every
stage's objects from the hooks. The worker, ``score``, ``eval``, ``bench`` and the
benchmarks all call :func:`build_pipeline`."""
from __future__ import annotations

from typing import Any, Iterable

from mmstream.inference.fused import FusedModel
from mmstream.pipeline.core import Pipeline
from mmstream.plugin.manager import get_plugin_manager, register_enrichers, register_extractors, register_sinks
from mmstream.settings import Settings


def build_pipeline(settings: Settings, pm: Any = None, *, app: Any = None, plugins: Iterable[Any] = ()) -> Pipeline:
    """Load the plugins (``pm``, or a new plugin manager with ``plugins`` registered
    besides the installed ones), their extractors (``load()`` each once), the fused
    model, the enrichers and the sinks. ``app`` is the worker's Faust app (None off
    Kafka): hooks hand back worker-mode objects for it."""
    pm = pm if pm is not None else get_plugin_manager(settings, plugins)
    extractors = register_extractors(pm, settings)
    for extractor in {id(e): e for e in extractors.values()}.values():
        extractor.load()
    model = FusedModel(settings.model_dir)
    enrichers = register_enrichers(pm, settings, model, app)
    sinks = register_sinks(pm, settings, app)
    pipeline = Pipeline(settings, extractors, model, enrichers, sinks)
    pipeline.plugin_manager = pm
    return pipeline
