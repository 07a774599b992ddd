"""The plugin API: everything a plugin needs, importable from one place.

``from mmstream.plugin import Extractor, Extraction, PostError, hookimpl``
(the same names are re-exported from ``mmstream``)."""
from mmstream.errors import MMStreamError, PluginError, PostError
from mmstream.plugin.extractors import Extraction, Extractor
from mmstream.plugin.hookspecs import hookimpl
from mmstream.settings import Settings

__all__ = ["Extraction", "Extractor", "MMStreamError", "PluginError", "PostError", "Settings", "hookimpl"]
