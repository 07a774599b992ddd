"""``SqlStore``: the SQL both built-in stores share (DDL, upserts, one transaction
per batch); a subclass says how to connect and how types and values map."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

from mmstream.client.reader import Message
from mmstream.sinks.base import SinkStore
from mmstream.sinks.tables import ALL_TABLES, REJECTS, TOPIC_TABLES, Table, record_key, reject_row, rows_of


class SqlStore(SinkStore):
    #: logical type -> the database's column type
    types: dict[str, str] = {}
    placeholder = "?"

    def __init__(self, connection: Any, table_prefix: str = "mmstream_") -> None:
        if not table_prefix.replace("_", "").isalnum() and table_prefix:
            raise ValueError(f"table prefix {table_prefix!r}: letters, digits and _ only")
        self.conn, self.prefix = connection, table_prefix
        self._sql: dict[str, tuple[str, list[str]]] = {t.name: self._upsert(t) for t in ALL_TABLES}

    # -- dialect -----------------------------------------------------------------
    def convert(self, kind: str, value: Any) -> Any:
        """A Python value for a column of logical type ``kind``."""
        return value

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        cur = self.conn.cursor()
        try:
            cur.executemany(sql, rows)
        finally:
            cur.close()

    # -- SQL ---------------------------------------------------------------------
    def table(self, t: Table) -> str:
        return f"{self.prefix}{t.name}"

    def ddl(self, t: Table) -> list[str]:
        cols = ", ".join(f"{name} {self.types[kind]}" for name, kind in t.columns)
        statements = [f"CREATE TABLE IF NOT EXISTS {self.table(t)} ({cols}, PRIMARY KEY ({', '.join(t.key)}))"]
        if len(t.key) > 1:  # child tables are looked up by their second key column too
            statements.append(f"CREATE INDEX IF NOT EXISTS {self.table(t)}_{t.key[1]} ON {self.table(t)} ({t.key[1]})")
        return statements

    def _upsert(self, t: Table) -> tuple[str, list[str]]:
        names = [name for name, _ in t.columns]
        values = ", ".join([self.placeholder] * len(names))
        rest = [n for n in names if n not in t.key]
        action = ("DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in rest)) if rest else "DO NOTHING"
        return (f"INSERT INTO {self.table(t)} ({', '.join(names)}) VALUES ({values}) "
                f"ON CONFLICT ({', '.join(t.key)}) {action}", names)

    def create_tables(self, topics: Sequence[str]) -> None:
        """Create the tables, and add the columns a newer mmstream has to tables an older one made."""
        tables = [t for topic in topics for t in TOPIC_TABLES[topic]] + [REJECTS]
        with self.transaction():
            for t in tables:
                for statement in self.ddl(t):
                    self.execute(statement)
                have = self.columns(self.table(t))
                for name, kind in t.columns:
                    if name not in have:
                        self.execute(f"ALTER TABLE {self.table(t)} ADD COLUMN {name} {self.types[kind]}")

    def columns(self, table: str) -> set[str]:
        """The column names ``table`` has in the database."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
        finally:
            cur.close()

    def transaction(self) -> Any:
        """A context manager: commit on success, roll back on an exception."""
        raise NotImplementedError

    def write(self, messages: Sequence[Message]) -> None:
        last: OrderedDict[tuple[str, str], Message] = OrderedDict()
        rejects = []
        for m in messages:
            if m.error is not None or m.record is None:
                rejects.append(reject_row(m))
            else:
                last[(m.topic, record_key(m))] = m  # a key twice in one batch: the later record wins
        rows: dict[str, list[dict]] = {"rejects": rejects}
        children: dict[str, list[str]] = {}
        for (topic, key), m in last.items():
            tables = TOPIC_TABLES[topic]
            for t in tables[1:]:
                children.setdefault(t.name, []).append(key)
            for name, found in rows_of(m).items():
                rows.setdefault(name, []).extend(found)
        by_name = {t.name: t for t in ALL_TABLES}
        with self.transaction():
            for name, keys in children.items():  # a result's brands and topics are replaced, not merged
                t = by_name[name]
                self.executemany(f"DELETE FROM {self.table(t)} WHERE {t.key[0]} = {self.placeholder}",
                                 [(k,) for k in keys])
            for name, found in rows.items():
                if not found:
                    continue
                sql, names = self._sql[name]
                kinds = dict(by_name[name].columns)
                self.executemany(sql, [tuple(self.convert(kinds[n], r.get(n)) for n in names) for r in found])

    def close(self) -> None:
        self.conn.close()
