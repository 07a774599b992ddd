"""The SQLite store, the embedded default: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``
(four slashes, as in SQLAlchemy), ``sqlite:///:memory:`` for a throw-away one. Times are ISO-8601 text in UTC (``2026-11-28T09:15:24Z``),
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
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:`` -> the path.

    The convention of SQLAlchemy and most Python tools: what follows the third slash is the
    path as written, so ``sqlite:///tmp/x.db`` is ``tmp/x.db`` under the current folder and an
    absolute path takes a fourth slash (``sqlite:////tmp/x.db``). The sink's first line and
    every error name the absolute path it tried."""
    if not dsn.startswith("sqlite:///"):
        raise ConfigError(f"{dsn!r} is not a SQLite DSN: write sqlite:///relative/path.db or sqlite:////absolute/path.db")
    path = dsn[len("sqlite:///"):]
    if not path:
        raise ConfigError(f"{dsn!r} names no file: write sqlite:///relative/path.db or sqlite:////absolute/path.db")
    return path


def _missing_folder(path: str) -> str:
    """The error for a path whose folder does not exist, with the absolute path tried."""
    tried = Path(path).resolve()
    message = f"cannot open the SQLite database {tried}: its folder {tried.parent} does not exist"
    if path.startswith("/"):
        return message + "; create the folder or pick another path"
    message += f" (sqlite:///{path} is relative to the current folder, {Path.cwd()})"
    if Path("/", path).parent.is_dir():
        return message + f"; for the absolute path /{path} write four slashes: sqlite:////{path}"
    return message + "; create the folder or pick another path"


class SqliteStore(SqlStore):
    types = {"text": "TEXT", "time": "TEXT", "float": "REAL", "int": "INTEGER", "bool": "INTEGER", "json": "TEXT"}
    placeholder = "?"

    def __init__(self, path: str, table_prefix: str = "mmstream_") -> None:
        self.path = path if path == ":memory:" else str(Path(path).resolve())
        if path != ":memory:" and not Path(path).resolve().parent.is_dir():
            raise ConfigError(_missing_folder(path))
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)  # transactions are ours: BEGIN ... COMMIT
            conn.execute("PRAGMA journal_mode=WAL")  # readers do not block the sink, nor the sink them
            conn.execute("PRAGMA synchronous=FULL")  # a committed batch survives a power cut: offsets follow it
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the SQLite database {self.path}: {exc} (a folder, or no permission to "
                              "write there?); pick another path") from None
        super().__init__(conn, table_prefix)

    def describe(self) -> str:
        return f"SQLite {self.path}"

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
