"""Lanes on Apache Kafka (tests/realkafka.py): a 3-broker cluster (replication factor 3,
``min.insync.replicas=2``), two ``--lanes text`` workers and one ``--lanes media`` worker, and the broker
leading most of the posts' and media partitions killed with SIGKILL mid-stream: every post, text or
clip, gets its outcome, no dead letter, copies identical. The path under test is the one tansu cannot
show: the routing records, the media group's coordinator and the media lane's producer moving to
another broker while clips are in flight (issue 28)."""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections import defaultdict

import pytest

from media_samples import speech_wav
from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.kafka.broker import free_port
from mmstream.settings import Settings
from mmstream.testing import consume
from realkafka import KafkaCluster
from support import WorkerProcess, text_posts, wait_for_assignment, wait_until, without_mined

#: the cheaper Whisper, and room for a clip on a loaded machine: the test is of delivery, not of speech
AUDIO = {"MMSTREAM_PLUGIN_AUDIO_MODEL": "tiny.en", "MMSTREAM_PLUGIN_AUDIO_TRANSCRIBE_SECONDS": "600"}
SPEECH = "My flight was delayed for three hours and nobody at the gate told us anything."
CREATED = "2026-12-06T20:00:00Z"


@pytest.fixture
def cluster(three_brokers: KafkaCluster) -> KafkaCluster:
    """The session's 3-broker cluster (tests/conftest.py, shared with the other broker-loss tests), whole."""
    return three_brokers


def leaders(cluster: KafkaCluster, topics: list[str]) -> list[int]:
    admin = cluster.admin()
    try:
        return [p["leader_id"] for t in admin.describe_topics(topics) for p in t["partitions"]]
    finally:
        admin.close()


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.realkafka
def test_two_text_workers_and_a_media_worker_lose_nothing_when_a_broker_is_killed(cluster, tmp_path):
    unique = f"l{time.time_ns() % 10**9}"
    settings = Settings.load(broker=cluster.url, topic_prefix=f"{unique}.", app_id=f"mmstream-{unique}",
                             broker_session_timeout=6.0, web_port=free_port(), data_dir=str(tmp_path / "data"),
                             replication_factor=3)
    topics = create_topics(settings, roles=("worker",))
    assert settings.topic("media") in topics
    clip = base64.b64encode(speech_wav(SPEECH, tmp_path)).decode()
    texts = text_posts(900, "lane")
    clips = [{"id": f"clip{i}", "created_at": CREATED, "text": "listen", "audio": [{"b64": clip}]} for i in range(6)]
    posts = [p for i, t in enumerate(texts) for p in ([t, clips[i // 150]] if i % 150 == 75 else [t])]
    assert {p["id"] for p in posts} >= {c["id"] for c in clips}
    ids = {p["id"] for p in posts}
    env = {"MMSTREAM_REPLICATION_FACTOR": "3", **AUDIO}
    roles = {"text-1": "text", "text-2": "text", "media": "media"}
    ports = {name: free_port() for name in roles}
    workers = {name: WorkerProcess(settings.replace(web_port=ports[name]), tmp_path / f"{name}.log",
                                   {**env, "MMSTREAM_LANES": role}) for name, role in roles.items()}
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            produce_jsonl(settings, [json.dumps(p) for p in posts], settings.topic("posts"), rate=60.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    led = leaders(cluster, [settings.topic("posts"), settings.topic("media")])
    victim = cluster.node(max(set(led), key=led.count))  # the broker leading most of the lanes' partitions
    records: list = []
    try:
        wait_for_assignment([ports["text-1"], ports["text-2"]], timeout=180)
        wait_until(lambda: ready(ports["media"]), 180, "the media worker ready (media partitions assigned)")
        producer.start()  # ~15 s of stream, a clip every 2.5 s
        consume(settings, [settings.topic("enriched")], timeout=180, until=lambda rs: len(rs) >= 300)
        routed_before = len(consume(settings, [settings.topic("media")], timeout=5, until=lambda rs: False))
        victim.kill()  # SIGKILL: a machine lost, clips routed and in the media lane
        killed_at = time.monotonic()
        producer.join(timeout=240)
        assert not producer.is_alive() and not failures, failures
        records = consume(settings, [settings.topic("enriched"), settings.topic("dead-letter")], timeout=600,
                          until=lambda rs: ids <= {r.json()["id"] for r in rs})
        all_out = time.monotonic() - killed_at
        alive = {name: w.alive() for name, w in workers.items()}
    finally:
        # the lost broker back first, as a cluster heals: a worker asked to stop while a broker it needs is
        # gone may take past MMSTREAM_SHUTDOWN_TIMEOUT and exit 70 by design (README, Reliability)
        victim.start(cluster.libs)
        codes = {name: w.stop(timeout=60) for name, w in workers.items()}
    found: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r.topic == settings.topic("enriched"):
            found[r.json()["id"]].append(r.json())
    dead = [r.json() for r in records if r.topic == settings.topic("dead-letter")]
    assert set(found) == ids and not dead, (sorted(ids - set(found))[:10], dead[:1])
    logs = {name: w.log() for name, w in workers.items()}
    assert all(alive.values()) and set(codes.values()) == {0}, (alive, codes, logs)
    duplicated = {i: c for i, c in found.items() if len(c) > 1}
    for post_id, copies in duplicated.items():
        assert all(without_mined(c) == without_mined(copies[0]) for c in copies[1:]), post_id
    for c in clips:
        assert "delayed" in found[c["id"]][0]["modalities"]["audio"]["transcript"].lower(), found[c["id"]][0]
    print(f"lanes on 3 brokers, node {victim.node_id} SIGKILLed mid-stream ({routed_before} of {len(clips)} clips "
          f"routed by then): {len(texts)} text posts + {len(clips)} clips through 2 text + 1 media workers, 0 lost, "
          f"{len(duplicated)} duplicates (identical), every post out {all_out:.1f} s after the kill")
