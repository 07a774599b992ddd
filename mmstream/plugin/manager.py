"""The plugin manager: built-ins and third-party plugins load the same way,
through the ``mmstream`` entry-point group, once, at startup."""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass

import pluggy

from mmstream.plugin import hookspecs
from mmstream.errors import PluginError
from mmstream.plugin.extractors import Extractor
from mmstream.settings import Settings

ENTRY_POINT_GROUP = "mmstream"


def get_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("mmstream")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


@dataclass
class PluginInfo:
    name: str
    source: str  # distribution name and version, or the module
    modalities: list[str]


def register_extractors(pm: pluggy.PluginManager, settings: Settings) -> dict[str, Extractor]:
    """Call the ``register_extractors`` hook and index the extractors by modality.

    Raises :class:`PluginError` when a plugin returns something that is not an
    extractor or when two plugins claim one modality.
    """
    by_modality: dict[str, Extractor] = {}
    for impl_result in pm.hook.register_extractors(settings=settings):
        for extractor in impl_result or []:
            if not isinstance(extractor, Extractor):
                raise PluginError(
                    f"register_extractors returned {extractor!r}, not an mmstream.Extractor; "
                    "subclass mmstream.Extractor in the plugin"
                )
            for modality in extractor.modalities:
                if modality in by_modality:
                    raise PluginError(
                        f"modality {modality!r} is claimed by both {by_modality[modality].name!r} and "
                        f"{extractor.name!r}; uninstall one of the two plugins"
                    )
                by_modality[modality] = extractor
    return by_modality


def plugin_infos(pm: pluggy.PluginManager, extractors: dict[str, Extractor]) -> list[PluginInfo]:
    """Where each loaded plugin came from and which modalities it serves."""
    dists = {id(plugin): f"{dist.metadata['Name']} {dist.version}" for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        modalities = sorted(
            m for m, ex in extractors.items() if type(ex).__module__.split(".")[0] == getattr(plugin, "__name__", "").split(".")[0]
        )
        infos.append(PluginInfo(name, dists.get(id(plugin), getattr(plugin, "__name__", "?")), modalities))
    return infos
