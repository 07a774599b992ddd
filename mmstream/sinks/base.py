"""The sink plugin contract: a *sink kind* opens a *store* for a DSN.

A plugin adds a database (Elasticsearch, BigQuery ...) by returning a
:class:`SinkKind` from the ``register_sink_kinds`` hook; ``mmstream sink DSN``
picks the kind whose ``schemes`` has the DSN's scheme. The runner
(:mod:`mmstream.sinks.runner`) owns Kafka: it hands the store batches of
messages and commits their offsets only after :meth:`SinkStore.write` returned,
so a store's ``write`` must be atomic (all of the batch or nothing) and
idempotent (the primary key is the record key: writing a record again changes
nothing); a crash between the two is then harmless.
"""
from __future__ import annotations

from typing import Sequence

from mmstream.client.reader import Message
from mmstream.errors import MMStreamError
from mmstream.settings import Settings


class SinkStore:
    """An open connection to one database."""

    def create_tables(self, topics: Sequence[str]) -> None:
        """Create what the records of ``topics`` (names after the prefix) need, if missing."""
        raise NotImplementedError

    def write(self, messages: Sequence[Message]) -> None:
        """Upsert ``messages`` in one transaction; raise (and write nothing) on failure.
        A message whose ``error`` is set did not match its schema: keep it somewhere a
        person can see (the built-in stores: the ``rejects`` table)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where the rows go, for the sink's first line (no password)."""
        return type(self).__name__

    def close(self) -> None:
        """Release the connection."""


class SinkKind:
    """A kind of database sink: ``name``, the DSN ``schemes`` it opens, and :meth:`open`."""

    name: str = "sink"
    schemes: tuple[str, ...] = ()

    def open(self, dsn: str, settings: Settings, table_prefix: str = "mmstream_") -> SinkStore:
        raise NotImplementedError


class SinkError(MMStreamError):
    """A batch could not be written to the database (nothing of it was committed)."""
