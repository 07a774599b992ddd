"""The plugin API: everything a plugin needs, importable from one place.

``from mmstream.plugin import Extractor, Extraction, Enricher, Sink, PostError, hookimpl``

* stages: :class:`Extractor` (+ :class:`Extraction`), :class:`Enricher`, :class:`Sink`;
* :class:`Item` (+ :class:`PostView`): a post as enrichers and sinks see it, read-only; an
  enricher puts its output in the result with ``item.add(key, value)``;
* :data:`hookimpl`, the marker of hook implementations (hooks: ``docs/plugins.md``);
* :class:`WorkerContext`, what the hooks get instead of the worker's Faust app: ``mode``, and in a
  worker the one way to add routes, agents, tasks and timers, name topics and produce;
* errors: :class:`PostError` (a value is unusable: the post is dead-lettered with its reason),
  :class:`ConfigError` (a setting or file is wrong; the message names the fix), :class:`PluginError`;
* value checks for ``Extractor.validate``: :func:`check_value_type`, :func:`check_text`,
  :func:`check_unicode`;
* :class:`Settings`, with ``settings.plugin("name")``: the plugin's own settings,
  ``MMSTREAM_PLUGIN_<NAME>_<KEY>`` environment variables as a mapping;
* :class:`OnnxModel`, the ONNX Runtime session every model of mmstream goes through, and
  :func:`onnx_threads`, the intra-op threads it uses (``MMSTREAM_ONNX_THREADS``); :func:`usable_cpus`;
* :func:`brand_names`, the configured brands as written and said, to prime a recogniser with.

Testing helpers are in :mod:`mmstream.testing` (a pytest plugin).
"""
from mmstream.errors import ConfigError, MMStreamError, PluginError, PostError
from mmstream.inference.onnx import OnnxModel, onnx_threads, usable_cpus
from mmstream.pipeline.post import check_unicode
from mmstream.plugin.extractors import Extraction, Extractor, check_text, check_value_type
from mmstream.plugin.hookspecs import hookimpl
from mmstream.plugin.context import WorkerContext
from mmstream.plugin.items import Item, PostView
from mmstream.plugin.media import check_media_list, read_media
from mmstream.plugin.stages import Enricher, Sink
from mmstream.plugin.vocabulary import brand_names
from mmstream.settings import Settings

__all__ = ["ConfigError", "brand_names", "Enricher", "Extraction", "Extractor", "MMStreamError", "OnnxModel", "PluginError",
           "Item", "PostView",
           "PostError", "Settings", "Sink", "check_media_list", "check_text", "check_unicode", "check_value_type",
           "hookimpl", "onnx_threads", "read_media", "usable_cpus", "WorkerContext"]
