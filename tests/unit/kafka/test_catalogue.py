"""The topic catalogue: every topic has what creation, the ACL check, the schemas and the sink read
from it, and what they derive is what mmstream created, checked and documented before the catalogue."""
from __future__ import annotations

import pytest

from mmstream import schemas
from mmstream.errors import ConfigError
from mmstream.kafka import catalogue
from mmstream.kafka.catalogue import CATALOGUE, topic_configs
from mmstream.settings import Settings
from mmstream.sinks.runner import DEFAULT_TOPICS
from mmstream.sinks.tables import TOPIC_TABLES
from mmstream.worker.run import OUTPUT_TOPICS, WORKER_READS, WORKER_WRITES

PARTS = {catalogue.PRODUCER, catalogue.TEXT_LANE, catalogue.MEDIA_LANE, catalogue.MENTION_PUBLISHER,
         catalogue.ENGINE, catalogue.SHARE_STAGE, catalogue.FEED, catalogue.DASHBOARD, catalogue.SINK,
         catalogue.CLIENT}


def test_every_topic_has_its_fields() -> None:
    settings = Settings.load()
    assert len({t.name for t in CATALOGUE}) == len(CATALOGUE)
    for t in CATALOGUE:
        assert t.name and t.key, t
        assert t.writers and t.readers and set(t.writers) | set(t.readers) <= PARTS, t
        assert t.created_by and set(t.created_by) <= set(catalogue.ROLES), t
        assert t.partitions == "1" or isinstance(getattr(settings, t.partitions), int), t
        assert t.partition_count(settings) >= 1
        assert t.retention is None or isinstance(getattr(settings, t.retention), float), t
        assert t.contract in (None, "input", "output", "internal"), t
        assert t.schema is None or t.schema in schemas.TOPICS, t  # a schema file of its own
        assert t.full_name(settings) == settings.topic(t.name)
    # every topic with a schema file is in the catalogue, and shown as its contract says
    assert set(schemas.TOPICS) == {t.name for t in CATALOGUE if t.contract}


def test_what_derives_from_it_is_what_was_written_out_before() -> None:
    """The lists six modules held, now derived (the sets; the order of creation does not matter)."""
    assert set(OUTPUT_TOPICS) == {"posts", "media", "enriched", "dead-letter", "late", "brand-stats", "topics", "alerts"}
    assert set(WORKER_READS) == {"posts", "media", "mentions", "window-totals", "topics", "brand-stats", "alerts",
                                 "copies"}
    assert set(WORKER_WRITES) == {"media", "enriched", "dead-letter", "mentions", "window-totals", "late",
                                  "brand-stats", "topics", "alerts", "copies"}
    assert catalogue.names(roles=("analytics",)) == ("mentions", "copies", "window-totals")
    assert catalogue.names(roles=("input",)) == ("posts",)
    # the order GET /schemas, `mmstream schemas` and the AsyncAPI document list them in
    assert schemas.TOPICS == ("posts", "enriched", "dead-letter", "brand-stats", "late", "topics", "alerts", "mentions")
    assert schemas.INPUTS == ("posts",) and schemas.INTERNAL == ("mentions",)
    assert DEFAULT_TOPICS == ("enriched", "brand-stats", "alerts")
    assert set(catalogue.read_by(catalogue.SINK)) == set(TOPIC_TABLES)  # the sink stores what it reads
    assert catalogue.written_by(catalogue.ENGINE) == ("late", "topics", "alerts", "window-totals")


def test_partitions_and_configs_per_topic() -> None:
    settings = Settings.load(topic_prefix="acme.", partitions=6, analytics_partitions=0, mentions_retention=0.0,
                             max_payload_bytes=3_000_000)
    counts = {t.name: t.partition_count(settings) for t in CATALOGUE}
    assert counts == {"posts": 6, "media": 6, "enriched": 6, "dead-letter": 6, "brand-stats": 6, "late": 6,
                      "topics": 6, "alerts": 6, "mentions": 1, "copies": 6, "window-totals": 1}  # 0 engines read as one
    big = str(3_000_000 + 64 * 1024)
    compact = {"cleanup.policy": "compact"}
    assert {t.name: topic_configs(settings, settings.topic(t.name)) for t in CATALOGUE} == {
        "posts": {"max.message.bytes": big}, "media": {"max.message.bytes": big}, "enriched": compact,
        "dead-letter": {}, "brand-stats": compact, "late": {}, "topics": compact, "alerts": compact,
        "mentions": {"retention.ms": "-1"}, "copies": {"retention.ms": "86400000"}, "window-totals": {}}
    kept = settings.replace(mentions_retention=7 * 86400.0, max_payload_bytes=10)
    assert topic_configs(kept, "mentions") == {"retention.ms": str(7 * 86400 * 1000)}  # a short name works too
    assert topic_configs(kept, "acme.posts") == {"max.message.bytes": "1048588"}  # never under Kafka's default
    assert topic_configs(kept, "acme.somebody-elses") == {}


def test_unknown_names_and_roles_are_refused_naming_the_choices() -> None:
    with pytest.raises(ConfigError, match="posts, media"):
        catalogue.topic("post")
    with pytest.raises(ConfigError, match="input, worker, analytics"):
        catalogue.names(roles=("workers",))
