"""The one place a pipeline is built: plugins (once), the fused model, then every
stage's objects from the hooks. The worker, ``score``, ``eval``, ``bench`` and the
benchmarks all call :func:`build_pipeline`."""
from __future__ import annotations

from typing import Any, Iterable

from mmstream.errors import ConfigError
from mmstream.inference.fused import FusedModel
from mmstream.inference.onnx import use_settings
from mmstream.lanes.opening import load_or_defer
from mmstream.pipeline.contentcache import ContentCache
from mmstream.pipeline.batch import Pipeline
from mmstream.plugin.extractors import Extractor
from mmstream.plugin.manager import get_plugin_manager, register_enrichers, register_extractors, register_sinks
from mmstream.settings import Settings


def build_pipeline(settings: Settings, pm: Any = None, *, context: Any = None,
                   plugins: Iterable[Any] = ()) -> Pipeline:
    """Load the plugins (``pm``, or a new plugin manager with ``plugins`` registered
    besides the installed ones), their extractors (``load()`` each once), the fused
    model, the enrichers and the sinks. ``context`` is the worker's
    :class:`~mmstream.plugin.context.WorkerContext` (None: an offline one, off Kafka): hooks hand
    back worker-mode objects for a worker's."""
    use_settings(settings)  # before any model loads: their sessions take onnx_threads from these settings
    pm = pm if pm is not None else get_plugin_manager(settings, plugins)
    extractors = register_extractors(pm, settings)
    for extractor in {id(e): e for e in extractors.values()}.values():
        load_or_defer(extractor, settings)  # a --lanes text worker opens some at first use (mmstream/lanes/opening.py)
    model = FusedModel(settings.model_dir)
    check_model_inputs(model, extractors, pm)
    enrichers = register_enrichers(pm, settings, model, context)
    sinks = register_sinks(pm, settings, context)
    pipeline = Pipeline(settings, extractors, model, enrichers, sinks)
    pipeline.plugin_manager = pm
    # a repeated text reuses its first extraction (mmstream/pipeline/contentcache.py; MMSTREAM_CONTENT_CACHE)
    pipeline.content_cache = ContentCache(settings.content_cache)
    pipeline.content_cache.wrap(extractors, pipeline.text_views)
    return pipeline


def check_model_inputs(model: FusedModel, extractors: dict[str, Extractor], pm: Any) -> None:
    """Every input the fused model was trained on (``config.json`` ``modalities``) must be a feature
    some loaded extractor declares (its ``dims``), unless the plugin that gave it in training
    (``encoders``) is disabled on purpose (``MMSTREAM_PLUGINS_DISABLED``). Otherwise the model
    would score every post with that input masked out, silently: a :class:`ConfigError` instead.
    (A plugin package that took the built-in text plugin's name once made every text post
    neutral at 1/3 each, with no error anywhere.)"""
    given = {feature for extractor in extractors.values() for feature in extractor.dims}
    owners: dict[str, str] = dict(model.onnx.config.get("encoders", {}))
    missing: dict[str, list[str]] = {}
    for feature in model.modalities:
        owner = owners.get(feature, "?")
        if feature not in given and not pm.is_blocked(owner):
            missing.setdefault(owner, []).append(feature)
    if not missing:
        return
    problems = []
    for owner, features in missing.items():
        failed = [f.error for f in getattr(pm, "failures", []) if f.name == owner]
        if failed:
            why = f"the {owner!r} plugin failed to load ({failed[0]})"
        elif pm.get_plugin(owner) is not None:
            source = getattr(pm, "sources", {}).get(owner, (owner, ""))[0]
            declared = sorted({f for e in extractors.values() if e.name == owner for f in e.dims}) or ["none"]
            why = (f"the plugin named {owner!r} ({source}) does not declare them (its features: "
                   f"{', '.join(declared)}; a package that took the built-in plugin's name?)")
        else:
            why = f"no {owner!r} plugin is installed"
        problems.append(f"{', '.join(features)}: {why}")
    names = ",".join(sorted(missing))
    raise ConfigError(
        f"the fused model ({model.dir / 'config.json'}) was trained on inputs no loaded plugin gives, so every post "
        f"would be scored without them: {'; '.join(problems)}. Reinstall the plugin (the built-ins: pip install -e "
        f"plugins/{names.split(',')[0] if len(missing) == 1 else '<name>'} from mmstream's checkout), or run "
        f"without it on purpose with MMSTREAM_PLUGINS_DISABLED={names}")
