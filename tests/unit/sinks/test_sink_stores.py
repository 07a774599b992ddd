"""The sink stores without Kafka: upserts are idempotent, a batch is one
transaction, and sink kinds are a plugin point (the built-ins come through it)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from mmstream.client.reader import Message
from mmstream.client.records import parse
from mmstream.errors import ConfigError, PluginError
from mmstream.plugin.hookspecs import hookimpl
from mmstream.plugin.manager import get_plugin_manager
from mmstream.settings import Settings
from mmstream.sinks import SinkKind, SinkStore, open_store, sink_kinds
from mmstream.sinks.sqlite import SqliteStore

from sink_samples import OLD_BRAND_STATS, STATS, stats_message


RESULT = {"schema": "mmstream.enriched/1", "id": "p1", "created_at": "2026-11-28T09:15:24Z", "brands": ["acme", "acme"],
          "lang": "en", "sentiment": {"label": "negative", "score": -0.81,
                                      "probs": {"negative": 0.86, "neutral": 0.09, "positive": 0.05}},
          "topics": [{"id": "m-0491c3eef1", "label": "bag · lost", "keywords": ["bag"], "score": 0.4, "kind": "mined"}],
          "modalities": {"text": {"chars": 23}}, "model": "mmstream-fused@x"}


def message(value: dict, offset: int, topic: str = "enriched") -> Message:
    return Message(topic, value["id"], parse(topic, value), 0, offset, 0, value, json.dumps(value).encode())


def rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_writing_a_batch_again_changes_nothing_and_the_last_record_of_a_key_wins(tmp_path):
    path = str(tmp_path / "s.db")
    store = SqliteStore(path)
    store.create_tables(["enriched"])
    later = {**RESULT, "brands": ["brewly"], "sentiment": {**RESULT["sentiment"], "label": "neutral", "score": 0.0}}
    batch = [message(RESULT, 0), message({**RESULT, "id": "p2"}, 1), message(later, 2)]
    store.write(batch)
    first = (rows(path, "SELECT * FROM mmstream_results ORDER BY id"), rows(path, "SELECT * FROM mmstream_result_brands"))
    store.write(batch)  # a replay
    store.write(batch[:2] + batch[2:])
    assert (rows(path, "SELECT * FROM mmstream_results ORDER BY id"), rows(path, "SELECT * FROM mmstream_result_brands")) == first
    assert rows(path, "SELECT id, sentiment_label FROM mmstream_results ORDER BY id") == [("p1", "neutral"), ("p2", "negative")]
    assert sorted(rows(path, "SELECT id, brand FROM mmstream_result_brands")) == [("p1", "brewly"), ("p2", "acme")]
    store.close()


def test_a_batch_is_all_or_nothing(tmp_path):
    path = str(tmp_path / "s.db")

    class Failing(SqliteStore):
        calls = 0

        def executemany(self, sql, params):
            Failing.calls += 1
            if Failing.calls == 3:
                raise sqlite3.OperationalError("disk full")
            super().executemany(sql, params)

    store = Failing(path)
    store.create_tables(["enriched"])
    with pytest.raises(sqlite3.OperationalError):
        store.write([message(RESULT, 0), message({**RESULT, "id": "p2"}, 1)])
    assert Failing.calls >= 3 and rows(path, "SELECT count(*) FROM mmstream_results") == [(0,)]
    assert rows(path, "SELECT count(*) FROM mmstream_result_brands") == [(0,)]


class MemoryStore(SinkStore):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict] = {}

    def create_tables(self, topics):
        pass

    def write(self, messages):
        self.rows.update({(m.topic, m.key): m.value for m in messages})


class MemoryKind(SinkKind):
    name = "memory"
    schemes = ("memory",)

    def open(self, dsn, settings, table_prefix="mmstream_"):
        return MemoryStore()


class MemoryPlugin:
    @hookimpl
    def register_sink_kinds(self, settings):
        return [MemoryKind()]


class Clash:
    @hookimpl
    def register_sink_kinds(self, settings):
        return [SqliteKindAgain()]


class SqliteKindAgain(MemoryKind):
    name = "sqlite2"
    schemes = ("sqlite",)


class NotAKind:
    @hookimpl
    def register_sink_kinds(self, settings):
        return ["elasticsearch"]


def test_sink_kinds_are_plugins_and_the_built_ins_come_through_the_hook(tmp_path):
    settings = Settings.load()
    pm = get_plugin_manager(settings, plugins=[MemoryPlugin()])
    kinds = sink_kinds(pm, settings)
    assert {k: type(v).__name__ for k, v in kinds.items()} == {
        "sqlite": "SqliteKind", "postgresql": "PostgresKind", "postgres": "PostgresKind", "memory": "MemoryKind"}
    assert "register_sink_kinds" in {c.name for c in pm.get_hookcallers(pm.get_plugin("sinks"))}
    store = open_store("memory://anything", settings, pm=pm)
    store.write([message(RESULT, 0)])
    assert store.rows[("enriched", "p1")] == RESULT
    assert isinstance(open_store(f"sqlite:///{tmp_path / 'x.db'}", settings, pm=pm), SqliteStore)
    with pytest.raises(PluginError, match="'sqlite' is claimed by both"):
        sink_kinds(get_plugin_manager(settings, plugins=[Clash()]), settings)
    with pytest.raises(PluginError, match="not an mmstream.sinks.SinkKind"):
        sink_kinds(get_plugin_manager(settings, plugins=[NotAKind()]), settings)
    with pytest.raises(ConfigError, match="no sink for mysql://"):
        open_store("mysql://h/db", settings, pm=pm)
    with pytest.raises(ConfigError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", settings, pm=pm)


def test_a_table_an_older_mmstream_made_gets_the_new_columns(tmp_path):
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mmstream_results (id TEXT, created_at TEXT, lang TEXT, sentiment_label TEXT, "
                 "sentiment_score REAL, p_negative REAL, p_neutral REAL, p_positive REAL, complaint INTEGER, "
                 "complaint_score REAL, model TEXT, schema TEXT, record TEXT, PRIMARY KEY (id))")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    store.create_tables(["enriched"])
    store.write([message({**RESULT, "lang_source": "detected", "complaint": {"label": True, "prob": 0.91},
                          "emotion": {"label": "anger", "probs": {"anger": 0.8}}}, 0)])
    assert rows(path, "SELECT lang_source, emotion, complaint, complaint_score FROM mmstream_results") == [
        ("detected", "anger", 1, 0.91)]
    store.close()


def test_the_reader_takes_the_workers_security_settings(tmp_path):
    from mmstream.client import Reader

    with pytest.raises(ConfigError, match="MMSTREAM_SSL_CAFILE"):
        Reader(["enriched"], "g", Settings.load(security_protocol="SASL_SSL", ssl_cafile=str(tmp_path / "no.pem")))
    with pytest.raises(ConfigError, match="MMSTREAM_SECURITY_PROTOCOL"):
        Reader(["enriched"], "g", Settings.load(security_protocol="KERBEROS"))
    with pytest.raises(ConfigError, match="the output topics are"):
        Reader(["results"], "g", Settings.load())


# -- SQLite paths, progress lines, complaint columns ---------------------------------------------------

def test_a_three_slash_sqlite_dsn_is_relative_and_the_error_names_the_absolute_path_tried(tmp_path, monkeypatch):
    from mmstream.sinks.sqlite import sqlite_path

    monkeypatch.chdir(tmp_path)  # holds no tmp/ folder: sqlite:///tmp/x.db is tmp_path/tmp/x.db, which cannot be made
    with pytest.raises(ConfigError) as missing:
        SqliteStore(sqlite_path("sqlite:///tmp/x.db"))
    message = str(missing.value)
    assert str(tmp_path / "tmp" / "x.db") in message, message  # the path tried, absolute
    assert "sqlite:////tmp/x.db" in message and "four slashes" in message, message  # and the fix
    with pytest.raises(ConfigError, match=f"{tmp_path / 'nope'}.* does not exist; create the folder"):
        SqliteStore(sqlite_path(f"sqlite:///{tmp_path / 'nope' / 'x.db'}"))  # four slashes: absolute
    with pytest.raises(ConfigError, match=f"cannot open the SQLite database {tmp_path}: "):
        SqliteStore(str(tmp_path))  # a folder, not a file
    (tmp_path / "tmp").mkdir()
    store = SqliteStore(sqlite_path("sqlite:///tmp/x.db"))  # relative, where the folder exists
    assert store.describe() == f"SQLite {tmp_path / 'tmp' / 'x.db'}" and (tmp_path / "tmp" / "x.db").exists()
    store.close()


def test_progress_lines_end_in_a_newline_off_a_terminal():
    import io
    import os
    import pty

    from mmstream.progress import line_end

    assert line_end(io.StringIO()) == "\n"
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            assert line_end(tty) == "\r"
    finally:
        os.close(leader)
        os.close(follower)


def test_brand_stats_has_complaint_columns_and_an_older_table_gains_them(tmp_path):
    fresh, old = str(tmp_path / "new.db"), str(tmp_path / "old.db")
    conn = sqlite3.connect(old)
    conn.execute(OLD_BRAND_STATS.format(**SqliteStore.types))
    conn.commit()
    conn.close()
    without = {k: v for k, v in STATS.items() if k not in ("complaints", "complaint_share")}  # a model without the head
    for path in (fresh, old):
        store = SqliteStore(path)
        store.create_tables(["brand-stats"])
        store.write([stats_message(STATS, 0), stats_message({**without, "brand": "acme"}, 1)])
        store.close()
        assert rows(path, "SELECT brand, complaints, complaint_share FROM mmstream_brand_stats ORDER BY brand") == [
            ("acme", None, None), ("zenbank", 9, 0.225)]
        columns = [r[1] for r in rows(path, "PRAGMA table_info(mmstream_brand_stats)")]
        assert columns[-5:] == ["complaints", "complaint_share", "duplicates", "campaign_posts", "excluded"], columns


