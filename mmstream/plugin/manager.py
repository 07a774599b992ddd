"""The plugin manager: built-ins and third-party plugins load the same way, once,
at startup, and every hook is called here and nowhere else.

The built-ins that ship inside mmstream (:data:`DEFAULT_PLUGINS`: the analytics' enrichers,
sink and pages; the database sink kinds) are registered like datasette's default plugins; the
modality plugins (``plugins/text``, ``plugins/image``) and third-party ones come
from the ``mmstream`` entry-point group. The contract is loud: a plugin that fails
to import, or implements a hook that does not exist (a misspelling), is an error
that names it (``MMSTREAM_PLUGIN_ERRORS=skip`` reports and skips it instead).
"""
from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from mmstream.errors import ConfigError, MMStreamError, PluginError
from mmstream.plugin import hookspecs
from mmstream.plugin.context import WorkerContext
from mmstream.plugin.extractors import Extractor, text_views
from mmstream.plugin.stages import Enricher, Sink
from mmstream.settings import Settings

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "mmstream"
#: plugins that ship inside mmstream, registered through the same hooks as any other
DEFAULT_PLUGINS = {"analytics": "mmstream.analytics.plugin", "sinks": "mmstream.sinks.builtin"}
ERROR_POLICIES = ("fatal", "skip")


@dataclass
class PluginFailure:
    name: str
    source: str
    error: str


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus where each plugin came from and which ones failed."""

    def __init__(self) -> None:
        super().__init__("mmstream")
        self.add_hookspecs(hookspecs)
        self.sources: dict[str, tuple[str, str]] = {}  # plugin name -> (source, version)
        self.failures: list[PluginFailure] = []


def get_plugin_manager(settings: Settings | None = None, plugins: Iterable[Any] = ()) -> PluginManager:
    """Register the default plugins, every ``mmstream`` entry point and ``plugins``
    (extra plugin objects or modules, e.g. in a test), then check every hook
    implementation names a hook. Raises :class:`PluginError` naming the plugin."""
    policy = (settings.plugin_errors if settings is not None else "fatal").lower()
    if policy not in ERROR_POLICIES:
        raise ConfigError(f"MMSTREAM_PLUGIN_ERRORS={policy!r}; use 'fatal' or 'skip'")
    pm = PluginManager()
    for name in disabled_plugins(settings):
        pm.set_blocked(name)
    version = importlib.metadata.version("mmstream")
    for name, module in DEFAULT_PLUGINS.items():
        if pm.is_blocked(name):
            continue
        _register(pm, policy, name, f"mmstream {version} (built-in {module})", version,
                  lambda m=module: importlib.import_module(m))
    for dist in list(importlib.metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            if any(f.name == ep.name for f in pm.failures):
                continue
            dist_name = dist.metadata["Name"]
            _register(pm, policy, ep.name, f"{dist_name} {dist.version}", dist.version, ep.load)
    for plugin in plugins:
        name = getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__
        if pm.is_blocked(str(name)):
            continue
        _register(pm, policy, str(name), getattr(plugin, "__module__", None) or str(name), "", lambda p=plugin: p)
    check_hooks(pm, policy)
    return pm


def disabled_plugins(settings: Settings | None) -> list[str]:
    """The names in ``MMSTREAM_PLUGINS_DISABLED``, each checked against the plugins there are
    (the built-ins and every ``mmstream`` entry point): a misspelt name is an error, not a no-op."""
    names = [n.strip() for n in (settings.plugins_disabled if settings is not None else "").split(",") if n.strip()]
    if not names:
        return []
    known = set(DEFAULT_PLUGINS) | {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for name in names:
        if name not in known:
            guess = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean {guess[0]!r}? " if guess else ""
            raise ConfigError(f"MMSTREAM_PLUGINS_DISABLED names {name!r}, which is no installed plugin; {hint}"
                              f"the plugins are {', '.join(sorted(known))}")
    return names


def _register(pm: PluginManager, policy: str, name: str, source: str, version: str, load: Any) -> None:
    plugin = None
    try:
        plugin = load()
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:  # a hook implemented with arguments the hook does not have
        _fail(pm, policy, name, source, _explain_hook_error(pm, plugin, exc))
        return
    except Exception as exc:  # noqa: BLE001 - a plugin's import error
        _fail(pm, policy, name, source, f"could not be loaded: {exc!r}")
        return
    pm.sources[name] = (source, version)


def _explain_hook_error(pm: PluginManager, plugin: Any, exc: Exception) -> str:
    """pluggy's message, multi-line and raw, as one sentence that names the hook, the arguments it
    takes and the ones the plugin got wrong."""
    import inspect

    for attr in dir(plugin):
        if pm.parse_hookimpl_opts(plugin, attr) is None:
            continue
        caller = getattr(pm.hook, attr, None)
        spec = getattr(caller, "spec", None)
        if spec is None:
            continue
        got = [p for p in inspect.signature(getattr(plugin, attr)).parameters if p != "self"]
        wrong = [a for a in got if a not in spec.argnames]
        if wrong:
            hint = (" (the raw Faust app became 'context', a WorkerContext: context.mode, context.add_route, "
                    "context.add_agent ...)" if "app" in wrong and "context" in spec.argnames else "")
            return (f"implements the hook {attr}({', '.join(got)}), but {attr} takes ({', '.join(spec.argnames)}): "
                    f"{', '.join(map(repr, wrong))} {'is' if len(wrong) == 1 else 'are'} not among them{hint}; rename "
                    "or drop it (docs/plugins.md lists every hook and its arguments)")
    return "could not be loaded: " + " ".join(str(exc).split())


def _fail(pm: PluginManager, policy: str, name: str, source: str, error: str) -> None:
    message = f"plugin {name!r} ({source}) {error}"
    if policy == "fatal":
        raise PluginError(f"{message}; fix or uninstall it, or set MMSTREAM_PLUGIN_ERRORS=skip to run without it")
    log.error("%s; skipped (MMSTREAM_PLUGIN_ERRORS=skip)", message)
    pm.failures.append(PluginFailure(name, source, error))


def check_hooks(pm: PluginManager, policy: str = "fatal") -> None:
    """Every ``@hookimpl`` must name a hook (``pm.check_pending()``, with a message
    that names the plugin, the hook and the likely intended one)."""
    known = sorted(n for n in dir(hookspecs) if isinstance(getattr(getattr(hookspecs, n), "mmstream_spec", None), dict))
    for hook_name, caller in list(vars(pm.hook).items()):
        if not isinstance(caller, pluggy.HookCaller) or caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            guess = difflib.get_close_matches(hook_name, known, n=1)
            hint = f"did you mean {guess[0]!r}? " if guess else ""
            name = impl.plugin_name
            _fail(pm, policy, name, pm.sources.get(name, (name, ""))[0],
                  f"implements {hook_name!r}, which is not an mmstream hook; {hint}the hooks are {', '.join(known)}")
            pm.unregister(name=name)
            pm.sources.pop(name, None)
    pm.check_pending()


def call_hook(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call ``hook`` once per plugin, in registration order (built-ins first); the
    objects handed back, each with its plugin's name."""
    out: list[tuple[str, Any]] = []
    for impl in getattr(pm.hook, hook).get_hookimpls():
        try:
            result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except MMStreamError:  # a plugin's own clear error (a missing file, an unreachable broker)
            raise
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook}: {exc!r}; fix the plugin or its "
                              "settings") from exc
        for obj in result or []:
            out.append((impl.plugin_name, obj))
    return out


def _checked(pairs: list[tuple[str, Any]], hook: str, kind: type) -> list[Any]:
    for plugin, obj in pairs:
        if not isinstance(obj, kind):
            raise PluginError(f"plugin {plugin!r}: {hook} returned {obj!r}, not an mmstream.{kind.__name__}; "
                              f"subclass mmstream.plugin.{kind.__name__} in the plugin")
    return [obj for _, obj in pairs]


def register_extractors(pm: pluggy.PluginManager, settings: Settings) -> dict[str, Extractor]:
    """Call ``register_extractors`` and index the extractors by modality.

    Raises :class:`PluginError` when a plugin returns something that is not an
    extractor or when two plugins claim one modality.
    """
    by_modality: dict[str, Extractor] = {}
    for extractor in _checked(call_hook(pm, "register_extractors", settings=settings), "register_extractors", Extractor):
        for modality in extractor.modalities:
            if modality in by_modality:
                raise PluginError(
                    f"modality {modality!r} is claimed by both {by_modality[modality].name!r} and "
                    f"{extractor.name!r}; uninstall one of the two plugins"
                )
            by_modality[modality] = extractor
    readers = list({id(e): e for e in by_modality.values() if e.reads_text}.values())
    if len(readers) > 1:
        raise PluginError(f"plugins {readers[0].name!r} and {readers[1].name!r} both read every text view "
                          "(reads_text); uninstall or disable one of them")
    for view in text_views(by_modality):
        if view not in by_modality and readers:
            by_modality[view] = readers[0]  # derived text (image_text, audio_text ...) goes through the text path
    return by_modality


def register_enrichers(pm: pluggy.PluginManager, settings: Settings, model: Any,
                       context: WorkerContext | None = None) -> list[Enricher]:
    """``register_enrichers`` with ``context`` (an offline one when None: ``score``, ``eval``, ``bench``)."""
    context = context if context is not None else WorkerContext(settings)
    pairs = call_hook(pm, "register_enrichers", settings=settings, model=model, context=context)
    return _checked(pairs, "register_enrichers", Enricher)


def register_sinks(pm: pluggy.PluginManager, settings: Settings, context: WorkerContext | None = None) -> list[Sink]:
    context = context if context is not None else WorkerContext(settings)
    return _checked(call_hook(pm, "register_sinks", settings=settings, context=context), "register_sinks", Sink)


def register_sink_kinds(pm: pluggy.PluginManager, settings: Settings) -> list[tuple[str, Any]]:
    """``register_sink_kinds``: each kind with the name of the plugin that gave it (in load order,
    built-ins first). :func:`mmstream.sinks.sink_kinds` checks and indexes them by DSN scheme."""
    return call_hook(pm, "register_sink_kinds", settings=settings)


def extend_worker(pm: pluggy.PluginManager, context: WorkerContext, settings: Settings, pipeline: Any) -> None:
    """A worker's plugin hooks, once, after its pipeline is built: ``register_routes``
    (each ``(path, view)`` added with ``context.add_route``), then ``extend_worker``."""
    for plugin, route in call_hook(pm, "register_routes", context=context, settings=settings, pipeline=pipeline):
        if not (isinstance(route, tuple) and len(route) == 2 and isinstance(route[0], str) and callable(route[1])):
            raise PluginError(f"plugin {plugin!r}: register_routes returned {route!r}, not a (path, view) pair")
        path, view = route
        context.add_route(path, view, name=f"{plugin}{path}")
    call_hook(pm, "extend_worker", context=context, settings=settings, pipeline=pipeline)


@dataclass
class PluginInfo:
    name: str
    source: str  # distribution name and version, or the module
    version: str
    hooks: list[str]
    modalities: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False  # named in MMSTREAM_PLUGINS_DISABLED: not loaded


def plugin_infos(pm: PluginManager, settings: Settings) -> list[PluginInfo]:
    """Every plugin: where it came from, its hooks and the modalities it serves,
    and the plugins that failed to load, with their error."""
    modalities: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for impl in pm.hook.register_extractors.get_hookimpls():
        try:
            extractors = impl.function(**{arg: {"settings": settings}[arg] for arg in impl.argnames}) or []
        except Exception as exc:  # noqa: BLE001 - listed as this plugin's failure; the others are still shown
            errors[impl.plugin_name] = f"register_extractors failed: {exc!r}"
            continue
        for extractor in extractors:
            modalities.setdefault(impl.plugin_name, []).extend(getattr(extractor, "modalities", ()))
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked: MMSTREAM_PLUGINS_DISABLED
            infos.append(PluginInfo(name, "MMSTREAM_PLUGINS_DISABLED", "", [], disabled=True))
            continue
        source, version = pm.sources.get(name, (getattr(plugin, "__name__", "?"), ""))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        infos.append(PluginInfo(name, source, version, hooks, sorted(modalities.get(name, [])), errors.get(name)))
    infos += [PluginInfo(f.name, f.source, "", [], [], f.error) for f in pm.failures]
    return infos
