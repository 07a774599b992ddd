"""The PostgreSQL store: ``postgresql://user:password@host:5432/db`` (any libpq
connection string psycopg 3 accepts; ``postgres://`` too). Times are
``timestamptz``, JSON is ``jsonb``. Needs ``pip install 'mmstream[postgres]'``."""
from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, Iterator

from mmstream.errors import ConfigError
from mmstream.settings import Settings
from mmstream.sinks.base import SinkKind
from mmstream.sinks.sql import SqlStore


class PostgresStore(SqlStore):
    types = {"text": "TEXT", "time": "TIMESTAMPTZ", "float": "DOUBLE PRECISION", "int": "BIGINT", "bool": "BOOLEAN",
             "json": "JSONB"}
    placeholder = "%s"

    def __init__(self, dsn: str, table_prefix: str = "mmstream_") -> None:
        try:
            import psycopg
            from psycopg.types.json import Jsonb
        except ImportError:
            raise ConfigError("the PostgreSQL sink needs psycopg 3: pip install 'mmstream[postgres]'") from None
        self._jsonb = Jsonb
        try:
            conn = psycopg.connect(dsn, autocommit=True)  # transactions are ours: conn.transaction()
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to PostgreSQL at {_safe(dsn)}: {str(exc).strip()}") from None
        super().__init__(conn, table_prefix)

    def describe(self) -> str:
        info = self.conn.info
        return f"PostgreSQL {info.user}@{info.host}:{info.port}/{info.dbname}"

    def columns(self, table: str) -> set[str]:
        return {row[0] for row in self.query("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_schema = current_schema() AND table_name = %s", (table,))}

    def convert(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "json":
            return self._jsonb(value)
        if kind == "time" and isinstance(value, str):
            return datetime.fromisoformat(value)
        if kind == "bool":
            return bool(value)
        return value

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield


def _safe(dsn: str) -> str:
    """The DSN without its password."""
    if "://" in dsn and "@" in dsn.split("://", 1)[1]:
        scheme, rest = dsn.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return dsn


class PostgresKind(SinkKind):
    name = "postgresql"
    schemes = ("postgresql", "postgres")

    def open(self, dsn: str, settings: Settings, table_prefix: str = "mmstream_") -> PostgresStore:
        return PostgresStore(dsn, table_prefix)
