"""The built-in sink kinds, registered through the ``register_sink_kinds`` hook
like a third-party plugin's (a default plugin: ``DEFAULT_PLUGINS`` in
:mod:`mmstream.plugin.manager`, like the analytics)."""
from __future__ import annotations

from mmstream.plugin.hookspecs import hookimpl
from mmstream.settings import Settings
from mmstream.sinks.base import SinkKind
from mmstream.sinks.postgres import PostgresKind
from mmstream.sinks.sqlite import SqliteKind


@hookimpl
def register_sink_kinds(settings: Settings) -> list[SinkKind]:
    return [SqliteKind(), PostgresKind()]
