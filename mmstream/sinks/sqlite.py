"""The SQLite store, the embedded default: ``sqlite:///path/to.db`` (``sqlite:///:memory:``
for a throw-away one). Times are ISO-8601 text in UTC (``2026-11-28T09:15:24Z``),
JSON is text (query it with ``json_extract``), booleans are 0/1."""
from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from mmstream.errors import ConfigError
from mmstream.settings import Settings
from mmstream.sinks.base import SinkKind
from mmstream.sinks.sql import SqlStore


def sqlite_path(dsn: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:`` -> the path."""
    if not dsn.startswith("sqlite:///"):
        raise ConfigError(f"{dsn!r} is not a SQLite DSN: write sqlite:///path/to.db")
    path = dsn[len("sqlite:///"):]
    if not path:
        raise ConfigError(f"{dsn!r} names no file: write sqlite:///path/to.db")
    return path


class SqliteStore(SqlStore):
    types = {"text": "TEXT", "time": "TEXT", "float": "REAL", "int": "INTEGER", "bool": "INTEGER", "json": "TEXT"}
    placeholder = "?"

    def __init__(self, path: str, table_prefix: str = "mmstream_") -> None:
        if path != ":memory:" and not Path(path).resolve().parent.is_dir():
            raise ConfigError(f"the folder of {path!r} does not exist; create it or pick another path")
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)  # transactions are ours: BEGIN ... COMMIT
        conn.execute("PRAGMA journal_mode=WAL")  # readers do not block the sink, nor the sink them
        conn.execute("PRAGMA synchronous=FULL")  # a committed batch survives a power cut: offsets follow it
        super().__init__(conn, table_prefix)

    def columns(self, table: str) -> set[str]:
        return {row[0] for row in self.query("SELECT name FROM pragma_table_info(?)", (table,))}

    def convert(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "json":
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if kind == "bool":
            return int(bool(value))
        return value

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


class SqliteKind(SinkKind):
    name = "sqlite"
    schemes = ("sqlite",)

    def open(self, dsn: str, settings: Settings, table_prefix: str = "mmstream_") -> SqliteStore:
        return SqliteStore(sqlite_path(dsn), table_prefix)
