"""Shared fixtures: one embedded tansu broker per test session, and Settings
with a unique topic prefix per test so tests never see each other's records.
Both come from :mod:`mmstream.testing` (the fixtures mmstream ships to plugin
authors, a pytest plugin active here too): this file keeps what is mmstream's
own, the real-Kafka fixture, the broker kinds and the tiers.

The folder sets the tier (tests/README.md): tests/unit/<package>/ (pure logic and
real models in this process: no broker, no mmstream process), tests/integration/
(the real broker, worker processes, commands, the database), tests/realkafka/
(Apache Kafka itself), tests/browser/ (Chromium). A unit test that asks for the
broker fails at collection, naming the folder it belongs in."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from mmstream.kafka.broker import EmbeddedBroker
from mmstream.settings import Settings
from mmstream.testing import unique_settings
from realkafka import KafkaCluster, KafkaUnavailable
from system_deps import check as check_system_deps

#: ``@pytest.mark.both_brokers``: the test runs on tansu and on Apache Kafka (tests/realkafka.py),
#: the second marked ``realkafka`` (``pytest -m realkafka``: that tier only)
BROKER_KINDS = ("tansu", "kafka")


@pytest.fixture(scope="session")
def broker(mmstream_broker: EmbeddedBroker) -> EmbeddedBroker:
    """The session's embedded broker: mmstream.testing's ``mmstream_broker`` (one tansu, whichever name
    a test asks for)."""
    return mmstream_broker


@pytest.fixture(scope="session")
def real_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One Apache Kafka node (KRaft, combined broker+controller) for the session."""
    try:
        cluster = KafkaCluster(tmp_path_factory.mktemp("kafka"), nodes=1).start()
    except KafkaUnavailable as exc:
        pytest.fail(f"the real-Kafka tier cannot run: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kafka_cluster3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes (replication factor 3, ``min.insync.replicas=2``), one cluster for the
    session's broker-loss tests (tests/realkafka/): started once, not once per module. Tests take it
    through ``three_brokers``, which makes it whole first."""
    try:
        cluster = KafkaCluster(tmp_path_factory.mktemp("cluster3"), nodes=3).start()
    except KafkaUnavailable as exc:
        pytest.fail(f"the real-Kafka tier cannot run: {exc}")
    print(f"3-broker KRaft cluster ready in {cluster.started_in:.1f} s")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def three_brokers(kafka_cluster3: KafkaCluster, request: pytest.FixtureRequest) -> KafkaCluster:
    """The session's 3-broker cluster whole, as a fresh one would be: a node an earlier test killed is
    started again, and the test begins once every node is registered and every partition (the internal
    topics' too) has all its replicas in sync. A test that kills a node starts it again in its finally.
    After the last test of the run that uses it, the cluster stops (its three idle JVMs cost ~7 % of a
    core, and the unit tier runs after tests/realkafka/)."""
    for node in kafka_cluster3.nodes:
        node.start(kafka_cluster3.libs)
    kafka_cluster3.wait_ready(120)
    kafka_cluster3.wait_in_sync(120)
    items = request.session.items
    later = items[items.index(request.node) + 1:] if request.node in items else []
    if not any("three_brokers" in getattr(item, "fixturenames", ()) for item in later):
        request.addfinalizer(kafka_cluster3.stop)
    return kafka_cluster3


@pytest.fixture
def broker_kind(request: pytest.FixtureRequest) -> str:
    """``tansu`` unless the test is marked ``both_brokers`` (then each kind in turn)."""
    return getattr(request, "param", "tansu")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_brokers") and "broker_kind" in metafunc.fixturenames:
        metafunc.parametrize("broker_kind", [BROKER_KINDS[0], pytest.param(
            BROKER_KINDS[1], marks=[pytest.mark.realkafka, pytest.mark.integration])], indirect=True)


@pytest.fixture
def settings(broker: EmbeddedBroker, broker_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """mmstream.testing's ``unique_settings`` (a topic prefix, consumer group and web port of the test's
    own) on the broker of ``broker_kind``, with a 6 s session timeout: a killed worker's partitions move
    to the others within seconds."""
    url = broker.url if broker_kind == "tansu" else request.getfixturevalue("real_kafka").url
    return unique_settings(tmp_path / "data", broker=url, broker_session_timeout=6.0)


#: the tier of each folder under tests/, as markers (``pytest -m unit`` and so on select by them)
TIERS = {"unit": ("unit",), "integration": ("integration",), "realkafka": ("integration", "realkafka"),
         "browser": ("integration", "browser")}


def tier_of(path: Path) -> str:
    """The tier a test file's folder sets: the first folder under tests/."""
    parts = path.resolve().relative_to(Path(__file__).resolve().parent).parts
    if len(parts) < 2 or parts[0] not in TIERS:
        raise pytest.UsageError(f"{path}: a test lives in one of tests/{{{','.join(TIERS)}}}/ (its folder is its tier)")
    return parts[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test gets its folder's markers. A test under tests/unit/ that uses the broker is an error:
    it belongs in tests/integration/. (A ``both_brokers`` test's Apache Kafka run is also marked
    ``realkafka``, by ``pytest_generate_tests`` above, wherever it lives.)"""
    for item in items:
        tier = tier_of(Path(str(item.fspath)))
        if tier == "unit" and {"broker", "mmstream_broker"} & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid} uses the broker: move it to tests/integration/")
        for marker in TIERS[tier]:
            item.add_marker(getattr(pytest.mark, marker))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once -m / -k have chosen what runs: a run whose tests need a program the machine lacks (chromium,
    PostgreSQL, Java, espeak-ng) stops with one line naming the package, instead of skipping that tier
    quietly (tests/system_deps.py; ``MMSTREAM_TESTS_WITHOUT=<name>`` skips those tests on purpose)."""
    check_system_deps(session.items)
