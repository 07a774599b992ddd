"""Reading topics back from their beginning, without a consumer group: ``mmstream demo`` shows
the results this way, and the tests read what a worker wrote (:mod:`mmstream.testing` offers
:func:`consume` and :class:`Record` to plugin authors' tests).

``consume`` counts what it read instead of asking for end offsets (tansu's ListOffsets
"latest" is wrong after multi-record batches).
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

from mmstream.kafka.clients import kafka_consumer
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python 3.x on import
    from kafka import TopicPartition
    from kafka.errors import KafkaError


@dataclass(frozen=True)
class Record:
    """One record read back from Kafka."""

    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    timestamp: int = -1

    def json(self) -> Any:
        """The value parsed as JSON (raises ValueError if it is not)."""
        if self.value is None:
            raise ValueError("record has no value")
        return json.loads(self.value)


def _partitions_for(consumer: Any, topic: str) -> set[int] | None:
    """The topic's partitions, or None while the metadata cannot be had: a bootstrap server that is down
    (a broker lost, the others still up) fails one refresh, and the next asks another."""
    try:
        return consumer.partitions_for_topic(topic)
    except KafkaError:
        return None


def consume(settings: Settings, topics: list[str], *,
            until: Callable[[list[Record]], bool], timeout: float,
            group_id: str | None = None, isolation_level: str = "read_uncommitted") -> list[Record]:
    """Read ``topics`` (full names) from the beginning until ``until(records)``
    is true or ``timeout`` seconds pass; everything read, in arrival order.

    Without ``group_id`` all partitions are assigned directly (no consumer
    group); with one the consumer joins that group (offsets are not committed;
    on tansu joining a new group takes about half the session timeout).
    ``isolation_level="read_committed"`` skips records of open and aborted transactions
    (``MMSTREAM_PROCESSING_GUARANTEE=exactly_once``).
    Never raises on timeout: callers compare what they got to what they expected.
    """
    deadline = time.monotonic() + timeout
    consumer = kafka_consumer(settings, "mmstream-reader", group_id=group_id, isolation_level=isolation_level)
    records: list[Record] = []
    try:
        if group_id is None:
            partitions: list[TopicPartition] = []
            for topic in topics:
                ids = _partitions_for(consumer, topic)
                while not ids and time.monotonic() < deadline:
                    time.sleep(0.05)
                    ids = _partitions_for(consumer, topic)
                partitions += [TopicPartition(topic, p) for p in sorted(ids or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning()
        else:
            consumer.subscribe(topics)
        while not until(records):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            batch = consumer.poll(timeout_ms=int(min(left, 0.2) * 1000))
            for messages in batch.values():
                records += [Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                            for m in messages]
    finally:
        consumer.close(autocommit=False)
    return records
