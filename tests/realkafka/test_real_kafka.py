"""Apache Kafka itself (tests/realkafka.py): what tansu cannot show.

* exactly-once (``MMSTREAM_PROCESSING_GUARANTEE=exactly_once``): a worker killed by
  SIGKILL mid-stream, and a ``read_committed`` consumer still sees every post's
  outcome exactly once; tansu (no transactions) refuses the setting at start-up;
* a 3-broker cluster (replication factor 3, ``min.insync.replicas=2``) losing one
  broker to SIGKILL while posts stream through two workers: nothing lost, duplicates
  identical, and the cluster heals once the broker is back.

The tier's representative tests of the rest (two workers, dead letters, restarts,
analytics windows) run on both brokers through ``@pytest.mark.both_brokers``.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from collections import defaultdict

import pytest

from mmstream.kafka.broker import free_port
from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.settings import Settings
from mmstream.testing import Record, consume, unique_settings
from realkafka import KafkaCluster
from support import WorkerProcess, run_worker
from support import text_posts, without_mined
from support import wait_for_assignment

EOS = {"MMSTREAM_PROCESSING_GUARANTEE": "exactly_once"}


def outcome_ids(records: list[Record]) -> dict[str, int]:
    """Copies of each post's outcome (a result or a dead letter) among ``records``."""
    copies: dict[str, int] = defaultdict(int)
    for r in records:
        copies[r.json()["id"]] += 1
    return copies


def read_outcomes(settings: Settings, ids: set[str], timeout: float, isolation: str) -> list[Record]:
    topics = [settings.topic("enriched"), settings.topic("dead-letter")]
    return consume(settings, topics, timeout=timeout, isolation_level=isolation,
                   until=lambda rs: ids <= {r.json()["id"] for r in rs})


def test_exactly_once_is_refused_on_tansu_with_the_setting_named(settings, tmp_path):
    create_topics(settings, roles=("worker",))
    run = run_worker(settings, EOS, timeout=120)
    assert run.returncode != 0, run.stdout + run.stderr
    assert "MMSTREAM_PROCESSING_GUARANTEE" in run.stderr and "at_least_once" in run.stderr, run.stderr[-2000:]


def test_an_unknown_guarantee_is_refused(settings):
    from mmstream.errors import ConfigError
    from mmstream.worker.transactions import exactly_once

    with pytest.raises(ConfigError, match="MMSTREAM_PROCESSING_GUARANTEE"):
        exactly_once(settings.replace(processing_guarantee="exactly-twice"))
    assert not exactly_once(settings) and exactly_once(settings.replace(processing_guarantee="exactly_once"))


@pytest.mark.realkafka
@pytest.mark.parametrize("broker_kind", ["kafka"], indirect=True)
def test_exactly_once_kill_9_mid_stream_read_committed_sees_every_id_once(settings, tmp_path):
    create_topics(settings, roles=("worker",))
    posts = text_posts(1200, "x")
    posts.append({"id": "x-bad", "text": "no created_at: a dead letter, also once"})
    ids = {p["id"] for p in posts}
    ports = [free_port(), free_port()]
    workers = [WorkerProcess(settings.replace(web_port=p), tmp_path / f"w{i}.log", env=EOS)
               for i, p in enumerate(ports)]
    lines = [json.dumps(p) for p in posts]
    producer = threading.Thread(target=produce_jsonl, args=(settings, lines, settings.topic("posts")),
                                kwargs={"rate": 150.0}, daemon=True)
    try:
        wait_for_assignment(ports)
        producer.start()  # ~8 s of stream: the kill after 300 results lands mid-stream
        seen = consume(settings, [settings.topic("enriched")], timeout=120, isolation_level="read_committed",
                       until=lambda rs: len(rs) >= 300)
        assert len(seen) >= 300, workers[0].log()
        workers[0].proc.kill()  # SIGKILL: its open transactions are never committed
        workers[0].proc.wait()
        assert workers[0].stop() == -signal.SIGKILL
        killed_at = time.monotonic()
        ports[0] = free_port()
        workers[0] = WorkerProcess(settings.replace(web_port=ports[0]), tmp_path / "w0-restarted.log", env=EOS)
        producer.join(timeout=120)
        assert not producer.is_alive(), "the producer did not finish"
        # the restarted worker in the group (its model loaded, partitions assigned) before the reads: a stream
        # shorter than its start-up on a loaded machine would otherwise end before it joined
        wait_for_assignment(ports, timeout=180)
        committed = read_outcomes(settings, ids, timeout=240, isolation="read_committed")
        recovered_in = time.monotonic() - killed_at
        everything = read_outcomes(settings, ids, timeout=30, isolation="read_uncommitted")
        alive = [w.alive() for w in workers]
    finally:
        codes = [w.stop() for w in workers]
    copies = outcome_ids(committed)
    assert set(copies) == ids, (sorted(ids - set(copies))[:10], workers[1].log())
    twice = {i: n for i, n in copies.items() if n > 1}
    assert not twice, f"read_committed saw {len(twice)} ids more than once, e.g. {list(twice.items())[:5]}"
    dead = [r.json() for r in committed if r.topic == settings.topic("dead-letter")]
    assert [d["id"] for d in dead] == ["x-bad"] and dead[0]["reason"] == "missing_created_at"
    assert alive == [True, True] and codes == [0, 0], (workers[0].log(), workers[1].log())
    uncommitted = sum(outcome_ids(everything).values()) - len(ids)
    print(f"exactly-once, kill -9 of 1 of 2 workers: {len(ids)} posts, read_committed {len(committed)} outcomes "
          f"(0 duplicates); read_uncommitted {uncommitted} extra records (aborted transactions of the killed "
          f"worker); every id committed {recovered_in:.1f} s after the kill")


@pytest.mark.realkafka
@pytest.mark.parametrize("broker_kind", ["kafka"], indirect=True)
def test_topics_mmstream_creates_carry_their_settings(settings):
    """Compaction for the keyed outputs, retention for the mentions, the posts' record size
    (tansu accepts these configs and ignores them, so only a real Kafka can show them)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka.admin import ConfigResource, ConfigResourceType

    from mmstream.kafka.clients import admin_client

    settings = settings.replace(max_payload_bytes=3_000_000, mentions_retention=7 * 86400.0, partitions=2,
                                analytics_partitions=2)
    names = create_topics(settings, roles=("worker", "analytics"))
    admin = admin_client(settings)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])["topic"]
    finally:
        admin.close()
    dynamic = {name.split(".", 1)[1]: {k: v["value"] for k, v in configs.items()
                                        if v["config_source"] == "DYNAMIC_TOPIC_CONFIG"}
               for name, configs in described.items()}
    assert dynamic == {
        "posts": {"max.message.bytes": str(3_000_000 + 64 * 1024)},
        "media": {"max.message.bytes": str(3_000_000 + 64 * 1024)},  # the media lane's: the same posts, routed
        "enriched": {"cleanup.policy": "compact"}, "topics": {"cleanup.policy": "compact"},
        "brand-stats": {"cleanup.policy": "compact"}, "alerts": {"cleanup.policy": "compact"},
        "dead-letter": {}, "late": {}, "mentions": {"retention.ms": str(7 * 86400 * 1000)}, "window-totals": {},
        # MMSTREAM_DUPLICATE_SCOPE=cluster's entries, kept as long as a post is compared against (duplicate_ttl)
        "copies": {"retention.ms": str(int(settings.duplicate_ttl * 1000))}}, dynamic


# -- a 3-broker cluster losing a broker ------------------------------------------------------

@pytest.fixture
def cluster(three_brokers: KafkaCluster) -> KafkaCluster:
    """The session's 3-broker cluster (tests/conftest.py, shared with the other broker-loss tests), whole."""
    return three_brokers


def partition_state(cluster: KafkaCluster, topics: list[str]) -> list[tuple[str, int, int, list[int]]]:
    """(topic, partition, leader, isr) of every partition, as the cluster reports it now."""
    admin = cluster.admin()
    try:
        return [(t["name"], p["partition_index"], p["leader_id"], sorted(p["isr_nodes"]))
                for t in admin.describe_topics(topics) for p in t["partitions"]]
    finally:
        admin.close()


def wait_until(check, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - a node still electing: ask again
            pass
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout} s for {what}")


@pytest.mark.realkafka
def test_a_broker_killed_mid_stream_loses_no_post_and_the_cluster_heals(cluster, tmp_path):
    settings = unique_settings(tmp_path / "data", broker=cluster.url, broker_session_timeout=6.0, replication_factor=3)
    topics = create_topics(settings, roles=("worker",))
    assert all(len(isr) == 3 for *_, isr in partition_state(cluster, topics))
    env = {"MMSTREAM_REPLICATION_FACTOR": "3"}
    posts = text_posts(1500, "b")
    ids = {p["id"] for p in posts}
    ports = [free_port(), free_port()]
    workers = [WorkerProcess(settings.replace(web_port=p), tmp_path / f"w{i}.log", env=env)
               for i, p in enumerate(ports)]
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            produce_jsonl(settings, [json.dumps(p) for p in posts], settings.topic("posts"), rate=150.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    # the broker leading most of the posts' partitions
    leaders = [leader for name, _, leader, _ in partition_state(cluster, [settings.topic("posts")])]
    victim = cluster.node(max(set(leaders), key=leaders.count))
    try:
        wait_for_assignment(ports)
        producer.start()  # ~10 s of stream: still sending while the leaders move (~4-6 s)
        early = consume(settings, [settings.topic("enriched")], timeout=120, until=lambda rs: len(rs) >= 400)
        assert len(early) >= 400, workers[0].log()
        victim.kill()  # SIGKILL: a machine lost
        killed_at = time.monotonic()
        failover = wait_until(lambda: all(leader not in (-1, victim.node_id) for _, _, leader, _ in
                                          partition_state(cluster, topics)), 60, "new leaders for every partition")
        producer.join(timeout=180)
        assert not producer.is_alive() and not failures, failures
        records = consume(settings, [settings.topic("enriched"), settings.topic("dead-letter")], timeout=300,
                          until=lambda rs: ids <= {r.json()["id"] for r in rs})
        all_out = time.monotonic() - killed_at
        victim.start(cluster.libs)
        heal = wait_until(lambda: all(len(isr) == 3 for *_, isr in partition_state(cluster, topics)), 120,
                          "every partition back to 3 in-sync replicas")
        alive = [w.alive() for w in workers]
    finally:
        codes = [w.stop() for w in workers]
        victim.start(cluster.libs)  # for the module's other tests, if the test failed early
    found: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r.topic == settings.topic("enriched"):
            found[r.json()["id"]].append(r.json())
    dead = [r.json() for r in records if r.topic == settings.topic("dead-letter")]
    assert set(found) == ids and not dead, (sorted(ids - set(found))[:10], dead[:1])
    assert alive == [True, True] and codes == [0, 0], (workers[0].log(), workers[1].log())
    duplicated = {i: c for i, c in found.items() if len(c) > 1}
    for post_id, copies in duplicated.items():
        for copy in copies[1:]:
            assert without_mined(copy) == without_mined(copies[0]), post_id
    # the stream's own recovery: the longest pause between results (their Kafka timestamps)
    stamps = sorted(r.timestamp for r in records if r.topic == settings.topic("enriched"))
    pause = max(b - a for a, b in zip(stamps, stamps[1:])) / 1000
    print(f"3 brokers, node {victim.node_id} SIGKILLed mid-stream: {len(ids)} posts, 0 lost, {len(duplicated)} "
          f"duplicates (identical); new leaders in {failover:.1f} s, longest pause in results {pause:.1f} s, "
          f"every post out {all_out:.1f} s after the kill; "
          f"restarted broker back in sync (ISR 3 everywhere) {heal:.1f} s after its start")
