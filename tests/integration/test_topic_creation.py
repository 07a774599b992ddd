"""create_topics makes exactly the catalogue's topics of the roles asked for, with the catalogue's
partition counts (and, on Apache Kafka, which applies them, its configs), and leaves existing ones be."""
from __future__ import annotations

import warnings

import pytest

from mmstream.kafka import catalogue
from mmstream.kafka.admin import create_topics
from mmstream.kafka.clients import admin_client
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import ConfigResource, ConfigResourceType


def _prefixed(settings: Settings) -> dict[str, int]:
    """The topics under this test's prefix: short name -> partitions."""
    admin = admin_client(settings)
    try:
        names = [n for n in admin.list_topics() if n.startswith(settings.topic_prefix)]
        described = admin.describe_topics(names) if names else []
    finally:
        admin.close()
    return {t["name"][len(settings.topic_prefix):]: len(t["partitions"]) for t in described}


@pytest.mark.both_brokers  # and on Apache Kafka (tests/conftest.py), where the configs apply
def test_the_catalogues_topics_with_their_partitions_and_configs(settings: Settings, broker_kind: str) -> None:
    settings = settings.replace(partitions=3, analytics_partitions=2, max_payload_bytes=2_000_000,
                                mentions_retention=3600.0)
    assert create_topics(settings, roles=("input",)) == [settings.topic("posts")]
    assert _prefixed(settings) == {"posts": 3}

    made = create_topics(settings, roles=("worker", "analytics"))
    assert made == [settings.topic(t.name) for t in catalogue.CATALOGUE]  # every topic, in catalogue order
    assert _prefixed(settings) == {t.name: t.partition_count(settings) for t in catalogue.CATALOGUE}
    assert _prefixed(settings)["mentions"] == 2 and _prefixed(settings)["window-totals"] == 1

    # an existing topic is left as it is: asking again with other counts changes nothing
    create_topics(settings.replace(partitions=5, analytics_partitions=5), roles=("worker", "analytics"))
    assert _prefixed(settings) == {t.name: t.partition_count(settings) for t in catalogue.CATALOGUE}

    if broker_kind == "kafka":  # tansu keeps no topic configs
        admin = admin_client(settings)
        try:
            described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in made])["topic"]
        finally:
            admin.close()
        dynamic = {name[len(settings.topic_prefix):]: {k: v["value"] for k, v in configs.items()
                                                      if v["config_source"] == "DYNAMIC_TOPIC_CONFIG"}
                   for name, configs in described.items()}
        assert dynamic == {t.name: t.configs(settings) for t in catalogue.CATALOGUE}, dynamic


def test_only_the_roles_asked_for(settings: Settings) -> None:
    made = create_topics(settings.replace(partitions=1), roles=("analytics",), topics=("enriched",))
    assert made == [settings.topic("enriched"), settings.topic("mentions"), settings.topic("copies"),
                    settings.topic("window-totals")]
    assert _prefixed(settings) == {"enriched": 1, "mentions": settings.analytics_partitions, "copies": 1,
                                   "window-totals": 1}  # copies: the posts partitions (1 here)


def test_the_topics_command_creates_and_prints_what_the_catalogue_says(settings: Settings, tmp_path) -> None:
    """``mmstream topics --create`` (what the compose file's ``topics`` service runs) makes every topic with
    the partition counts the settings give; ``--script`` prints the same as kafka-topics.sh commands."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MMSTREAM_BROKER": settings.broker, "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix,
           "MMSTREAM_PARTITIONS": "3", "MMSTREAM_ANALYTICS_PARTITIONS": "2", "MMSTREAM_REPLICATION_FACTOR": "1"}

    def mmstream(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "mmstream", "topics", *args], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    expected = {t.name: t.partition_count(settings.replace(partitions=3, analytics_partitions=2))
                for t in catalogue.CATALOGUE}
    assert mmstream("--create").split() == [settings.topic(t.name) for t in catalogue.CATALOGUE]
    assert _prefixed(settings) == expected and expected["mentions"] == 2 and expected["window-totals"] == 1
    script = mmstream("--script").splitlines()[1:]
    assert [line.split("--topic ")[1].split()[0] for line in script] == [settings.topic(n) for n in expected]
    assert all(f"--partitions {expected[line.split('--topic ')[1].split()[0][len(settings.topic_prefix):]]} " in line
               and "--replication-factor 1" in line for line in script)
    listed = mmstream().splitlines()[1:]
    assert [row.split()[0] for row in listed] == [settings.topic(n) for n in expected]


def test_a_worker_makes_the_copies_topic_only_in_cluster_scope(settings: Settings) -> None:
    """A partition-scope worker neither reads nor writes ``<prefix>copies``: it does not make it, so a
    principal without CREATE on it can run one. A cluster-scope worker makes it."""
    from mmstream.worker.run import prepare_topics

    settings = settings.replace(partitions=1)
    names = prepare_topics(settings.replace(duplicate_scope="partition"))
    assert settings.topic("copies") not in names and settings.topic("posts") in names
    assert "copies" not in _prefixed(settings) and "mentions" in _prefixed(settings)

    names = prepare_topics(settings.replace(duplicate_scope="cluster"))
    assert settings.topic("copies") in names and "copies" in _prefixed(settings)
