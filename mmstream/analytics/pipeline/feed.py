"""The feed: a thread in every worker that reads ``<prefix>topics``,
``<prefix>brand-stats`` and ``<prefix>alerts`` from the beginning, without a
consumer group, into the topic snapshot (for assigning posts) and the query
store (for HTTP).

``caught_up`` is set once every partition's position reached the high
watermark of a fetch response (the broker's answer to a fetch, which tansu
gets right; its ListOffsets "latest" is not trusted): from then on the
snapshot holds every topic written before this worker started.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from typing import Callable

from mmstream.analytics.engine.topicspace import TopicSnapshot
from mmstream.analytics.serving.store import QueryStore
from mmstream.kafka.follow import TopicFollower
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition  # noqa: F401 - KafkaConsumer: a type below

log = logging.getLogger(__name__)
POLL_MS = 200


class OutputFeed(TopicFollower):
    label = "analytics feed"

    def __init__(self, settings: Settings, snapshot: TopicSnapshot, store: QueryStore) -> None:
        super().__init__(settings, "mmstream-analytics-feed")
        self.caught_up = threading.Event()
        self.records = 0
        self.handlers: dict[str, Callable[[dict], None]] = {
            settings.topic("topics"): lambda r: (snapshot.apply(r), store.add_topic(r)),
            settings.topic("brand-stats"): store.add_window,
            settings.topic("alerts"): store.add_alert,
        }

    def consume(self) -> None:
        from mmstream.kafka.clients import kafka_consumer

        consumer = kafka_consumer(self.settings, "mmstream-analytics-feed")
        try:
            partitions = self._partitions(consumer)
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            while not self._stop_event.is_set():
                for tp, messages in consumer.poll(timeout_ms=POLL_MS).items():
                    handle = self.handlers[tp.topic]
                    for message in messages:
                        self._apply(handle, message.value)
                if not self.caught_up.is_set() and all(
                        (hw := consumer.highwater(tp)) is not None and consumer.position(tp) >= hw for tp in partitions):
                    self.caught_up.set()
        finally:
            consumer.close(autocommit=False)

    def _partitions(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        out: list[TopicPartition] = []
        for topic in self.handlers:
            ids = consumer.partitions_for_topic(topic)
            while not ids and not self._stop_event.is_set():
                time.sleep(0.2)
                ids = consumer.partitions_for_topic(topic)
            out += [TopicPartition(topic, p) for p in sorted(ids or ())]
        return out

    def _apply(self, handle: Callable[[dict], None], value: bytes | None) -> None:
        try:
            handle(json.loads(value or b"null"))
            self.records += 1
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("analytics feed: skipped a record it cannot read (%r)", exc)
