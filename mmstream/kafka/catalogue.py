"""Every topic mmstream writes or reads, in one table: its partitions, topic configs, schema, key,
and who writes and reads it.

Why one table: topic creation (:func:`mmstream.kafka.admin.create_topics`), the ACL check at a
worker's start (:data:`WORKER_READS`, :data:`WORKER_WRITES`), the JSON Schemas and the AsyncAPI
document (:mod:`mmstream.schemas`), the sink's default topics and the worker's topic lists all
read it, so a new topic, or a new reader of one, is one line here and not six edits that drift.

Names are short (``enriched``); the full name is ``Settings.topic(name)`` (the prefix, then the name).
No Kafka client is imported here: the schemas and the pipeline read this module too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from mmstream.errors import ConfigError
from mmstream.settings import Settings

# who writes and reads: the parts of mmstream (and of its users) that touch a topic
PRODUCER = "producer"  # `mmstream produce`, or any application that sends posts
TEXT_LANE = "text lane"  # the worker's posts agent (mmstream.worker.app)
MEDIA_LANE = "media lane"  # the worker's media consumer (mmstream.lanes)
MENTION_PUBLISHER = "mention publisher"  # the analytics' sink in a worker: one mention per result
ENGINE = "analytics engine"  # one per mentions partition (mmstream.analytics.engine.core)
SHARE_STAGE = "share stage"  # share of voice over the closed windows (mmstream.analytics.engine.share)
FEED = "analytics feed"  # every worker's query store, fed from the analytics' outputs
DASHBOARD = "dashboard"  # the live page's follower (mmstream.web.live): best effort, it retries
SINK = "sink"  # `mmstream sink` (mmstream.sinks)
CLIENT = "client"  # mmstream.client.Reader, downstream applications

#: the parts that run inside a worker and whose reads and writes its principal must be allowed at start
#: (the dashboard's follower is left out: it only retries, and a refusal shows in the log)
WORKER_PARTS = (TEXT_LANE, MEDIA_LANE, MENTION_PUBLISHER, ENGINE, SHARE_STAGE, FEED)

#: what creates a topic when it is missing: ``worker`` (every worker, at start), ``analytics`` (a worker
#: with the analytics plugin, at start), ``input`` (``mmstream produce`` and the test worker's producer)
ROLES = ("input", "worker", "analytics")

#: what a record batch carries beyond its payload (headers, key, the batch's framing), with room to spare
RECORD_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Topic:
    """One topic. ``partitions`` names the setting its partition count comes from (``"1"``: always one);
    ``retention`` the setting of its ``retention.ms`` (None: the broker's default); ``max_message``: its
    ``max.message.bytes`` follows ``MMSTREAM_MAX_PAYLOAD_BYTES``; ``schema``: the JSON Schema its records
    match (``mmstream/schemas/<schema>.json``; None: internal records without one); ``contract``: how the
    schemas and the AsyncAPI document show it (``input``, ``output``, ``internal``; None: not shown)."""

    name: str
    key: str
    writers: tuple[str, ...]
    readers: tuple[str, ...]
    created_by: tuple[str, ...]
    partitions: str = "partitions"
    compacted: bool = False
    retention: str | None = None
    max_message: bool = False
    schema: str | None = None
    contract: str | None = None
    sink_default: bool = False

    def full_name(self, settings: Settings) -> str:
        return settings.topic(self.name)

    def partition_count(self, settings: Settings) -> int:
        if self.partitions == "1":
            return 1
        count = int(getattr(settings, self.partitions))
        # the analytics read 0 as one engine; MMSTREAM_PARTITIONS is passed as set (Kafka refuses 0)
        return max(1, count) if self.partitions == "analytics_partitions" else count

    def configs(self, settings: Settings) -> dict[str, str]:
        """The topic-level configs mmstream sets when it creates the topic (ignored by tansu;
        applied by a real Kafka): ``cleanup.policy=compact`` for the keyed outputs whose
        consumers keep the last record per key (README, Reliability); ``retention.ms`` from
        ``MMSTREAM_MENTIONS_RETENTION`` (-1, forever, by default: the analytics engine rebuilds
        its state from that log); ``max.message.bytes`` so a post the worker accepts is one the
        broker accepts (Kafka's default is about 1 MB)."""
        configs: dict[str, str] = {}
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        if self.retention is not None:
            seconds = getattr(settings, self.retention)
            configs["retention.ms"] = str(int(seconds * 1000)) if seconds > 0 else "-1"
        if self.max_message:
            configs["max.message.bytes"] = str(max_record_bytes(settings))
        return configs


_POST_ID = "the post id"
#: every topic, in the order the schemas and the AsyncAPI document list them
CATALOGUE: tuple[Topic, ...] = (
    Topic("posts", "the post id (optional: the worker reads the id from the value)",
          writers=(PRODUCER,), readers=(TEXT_LANE, DASHBOARD), created_by=("input", "worker"),
          max_message=True, schema="posts", contract="input"),
    # posts with a media-lane modality, routed whole by the text lane
    Topic("media", _POST_ID, writers=(TEXT_LANE,), readers=(MEDIA_LANE,), created_by=("worker",),
          max_message=True, schema="posts"),
    Topic("enriched", _POST_ID, writers=(TEXT_LANE, MEDIA_LANE), readers=(DASHBOARD, SINK, CLIENT),
          created_by=("worker",), compacted=True, schema="enriched", contract="output", sink_default=True),
    Topic("dead-letter", "the post id when it had a usable one, else none (the value's topic, partition and "
          "offset name the input record)", writers=(TEXT_LANE, MEDIA_LANE), readers=(DASHBOARD, SINK, CLIENT),
          created_by=("worker",), schema="dead-letter", contract="output"),
    Topic("brand-stats", "brand|window|start, e.g. acme|tumbling|2025-11-28T09:00:00Z", writers=(SHARE_STAGE,),
          readers=(FEED, SINK, CLIENT), created_by=("worker",), compacted=True, schema="brand-stats",
          contract="output", sink_default=True),
    Topic("late", _POST_ID, writers=(ENGINE,), readers=(SINK, CLIENT), created_by=("worker",), schema="late",
          contract="output"),
    Topic("topics", "the topic id (m-<10 hex digits>, or _space)", writers=(ENGINE,), readers=(FEED, SINK, CLIENT),
          created_by=("worker",), compacted=True, schema="topics", contract="output"),
    Topic("alerts", "the alert id", writers=(ENGINE,), readers=(FEED, SINK, CLIENT), created_by=("worker",),
          compacted=True, schema="alerts", contract="output", sink_default=True),
    # one engine per partition, brands spread over them
    Topic("mentions", "none", writers=(MENTION_PUBLISHER,), readers=(ENGINE,), created_by=("analytics",),
          partitions="analytics_partitions", retention="mentions_retention", schema="mentions",
          contract="internal"),
    # MMSTREAM_DUPLICATE_SCOPE=cluster: every worker's entry per post it answered (its duplicates signature,
    # author, answers), read back whole by every worker (mmstream.analytics.pipeline.copyindex)
    Topic("copies", _POST_ID, writers=(TEXT_LANE, MEDIA_LANE), readers=(TEXT_LANE, MEDIA_LANE),
          created_by=("analytics",), retention="duplicate_ttl"),
    # the engines' closed windows, to the one share-of-voice stage: one partition, one reader
    Topic("window-totals", "the engine's partition", writers=(ENGINE,), readers=(SHARE_STAGE,),
          created_by=("analytics",), partitions="1"),
)
BY_NAME: dict[str, Topic] = {t.name: t for t in CATALOGUE}


def topic(name: str) -> Topic:
    """The catalogue's entry for ``name`` (short); ConfigError naming the topics otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ConfigError(f"no topic {name!r} in mmstream's catalogue; the topics are "
                          f"{', '.join(BY_NAME)}") from None


def names(*, roles: Iterable[str] = (), contract: str | None = None) -> tuple[str, ...]:
    """The short names of the topics ``roles`` create (any of them), or of one ``contract``, in catalogue order."""
    roles = set(roles)
    unknown = roles - set(ROLES)
    if unknown:
        raise ConfigError(f"no topic role {sorted(unknown)}; the roles are {', '.join(ROLES)}")
    return tuple(t.name for t in CATALOGUE
                 if (roles and roles & set(t.created_by)) or (contract is not None and t.contract == contract))


def written_by(*parts: str) -> tuple[str, ...]:
    """The topics any of ``parts`` writes (short names, catalogue order)."""
    return tuple(t.name for t in CATALOGUE if set(parts) & set(t.writers))


def read_by(*parts: str) -> tuple[str, ...]:
    """The topics any of ``parts`` reads (short names, catalogue order)."""
    return tuple(t.name for t in CATALOGUE if set(parts) & set(t.readers))


def topic_configs(settings: Settings, name: str) -> dict[str, str]:
    """The configs mmstream sets on topic ``name`` (full or short) when it creates it; none for a
    topic outside the catalogue."""
    short = name[len(settings.topic_prefix):] if name.startswith(settings.topic_prefix) else name
    entry = BY_NAME.get(short)
    return entry.configs(settings) if entry is not None else {}


def max_record_bytes(settings: Settings) -> int:
    """The largest record batch mmstream produces or asks a topic to accept."""
    return max(1_048_588, settings.max_payload_bytes + RECORD_OVERHEAD)


#: what a worker creates at start (the analytics' own topics come with the analytics plugin)
WORKER_CREATES = names(roles=("worker",))
#: what a worker's principal must be allowed on a secured Kafka (ACLs; deploy/README.md), checked at its start
WORKER_READS = read_by(*WORKER_PARTS)
WORKER_WRITES = written_by(*WORKER_PARTS)
#: what ``mmstream sink`` stores when ``--topics`` is not given
SINK_DEFAULT = tuple(t.name for t in CATALOGUE if t.sink_default)
