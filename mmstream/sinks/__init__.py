"""Database sinks: ``mmstream sink DSN --topics enriched,brand-stats,alerts``.

A sink reads output topics in its own consumer group and upserts each batch
into a database in one transaction, committing the batch's offsets only after
that transaction committed (:mod:`mmstream.sinks.runner`). Kinds of database
are plugins: the ``register_sink_kinds`` hook returns :class:`SinkKind`
objects; the built-in SQLite and PostgreSQL kinds come through it
(:mod:`mmstream.sinks.builtin`).
"""
from __future__ import annotations

from typing import Any

from mmstream.errors import ConfigError, PluginError
from mmstream.settings import Settings
from mmstream.sinks.base import SinkKind, SinkStore

__all__ = ["SinkKind", "SinkStore", "open_store", "sink_kinds"]


def sink_kinds(pm: Any, settings: Settings) -> dict[str, SinkKind]:
    """Every registered sink kind by DSN scheme; PluginError for a non-SinkKind or a scheme claimed twice."""
    from mmstream.plugin.manager import register_sink_kinds  # the hook is called by the plugin manager

    by_scheme: dict[str, SinkKind] = {}
    for plugin, kind in register_sink_kinds(pm, settings):
        if not isinstance(kind, SinkKind):
            raise PluginError(f"plugin {plugin!r}: register_sink_kinds returned {kind!r}, not an "
                              "mmstream.sinks.SinkKind; subclass SinkKind in the plugin")
        for scheme in kind.schemes:
            if scheme in by_scheme:
                raise PluginError(f"the DSN scheme {scheme!r} is claimed by both {by_scheme[scheme].name!r} and "
                                  f"{kind.name!r}; uninstall one of the two plugins")
            by_scheme[scheme] = kind
    return by_scheme


def open_store(dsn: str, settings: Settings, table_prefix: str = "mmstream_", pm: Any = None) -> SinkStore:
    """Open the store for ``dsn`` with the sink kind its scheme names."""
    if pm is None:
        from mmstream.plugin.manager import get_plugin_manager

        pm = get_plugin_manager()
    kinds = sink_kinds(pm, settings)
    scheme = dsn.split("://", 1)[0].split("+", 1)[0].lower() if "://" in dsn else ""
    if scheme not in kinds:
        known = ", ".join(f"{s}://" for s in sorted(kinds)) or "none (reinstall mmstream: pip install -e .)"
        raise ConfigError(f"no sink for {dsn.split('://', 1)[0] + '://' if scheme else repr(dsn)}: the DSN schemes "
                          f"known are {known}; e.g. sqlite:///mmstream.db")
    return kinds[scheme].open(dsn, settings, table_prefix)
