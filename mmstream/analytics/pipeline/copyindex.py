"""The cluster-wide copy index (``MMSTREAM_DUPLICATE_SCOPE=cluster``): every worker writes an entry per
post it answers to ``<prefix>copies`` and reads every partition of it back into its copy state.

Posts are keyed by post id, so the copies of one text land on different partitions of
``<prefix>posts``, read by different workers. In partition scope each partition's state sees only its
own posts: a retweet is linked to its original only when both share a partition, and a campaign
needs ``MMSTREAM_CAMPAIGN_MIN_AUTHORS`` accounts on one partition. Here:

* :class:`CopyPublisher`, a sink: the entries of a batch's posts
  (:meth:`~mmstream.analytics.engine.copystate.CopyState.entry`: post id, event time, content key,
  MinHash or image signature, author, retweet or not, brands, and the answers it got), keyed by post id,
  to the partition of ``<prefix>copies`` of the post's own partition, through the worker's producer;
  the worker awaits their delivery before it acks the batch, as the mentions'. Like the mentions they
  are written at least once (not inside the exactly-once transaction); an entry read twice changes
  nothing (kept by post id).
* :class:`CopyTail`, a thread in every worker: a consumer without a group, assigned every partition
  of ``<prefix>copies`` from its beginning (retention: ``MMSTREAM_DUPLICATE_TTL``), ``read_committed``,
  like a global table; each record is ingested into the worker's one cluster state
  (:meth:`~mmstream.analytics.pipeline.copies.CopyFinder.ingest`), its own entries included.
  ``delays`` keeps the last propagation delays (the record's timestamp, set when it was sent, to
  its ingestion here), reported by :meth:`CopyTail.describe`.

What holds: a post replayed after a kill -9 gets the answers it got (the worker's journal holds its
entries, answers included, and an entry read back keeps its answers). A first answer depends on what
the index had received: two copies answered within the propagation delay on different workers may
both be originals; when their entries meet, the later root is merged into the earlier, so later posts
get one root and one campaign id on every worker.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from mmstream.kafka.follow import TopicFollower
from mmstream.plugin.stages import Sink
from mmstream.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.analytics.pipeline.copies import CopyFinder
    from mmstream.plugin import Item

log = logging.getLogger(__name__)
POLL_MS = 100
PUBLISH_TIMEOUT = 30.0


def encode(entry: dict) -> bytes:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class CopyPublisher(Sink):
    """A sink: sends the entries the finder answered in this batch; :meth:`delivered` waits for the broker."""

    name = "copies"

    def __init__(self, finder: "CopyFinder", topic: str, partitions: int, submit: Callable[[Awaitable[None]], Any],
                 producer: Callable[[], Awaitable[Any]]) -> None:
        self.finder, self.topic, self.partitions = finder, topic, max(1, partitions)
        self.submit, self.producer = submit, producer
        self.inflight: list[Any] = []
        self.sent = self.failed = 0

    def write(self, items: list["Item"]) -> None:
        batch = [(p % self.partitions, e["id"].encode("utf-8"), encode(e)) for p, e in self.finder.take_outgoing()]
        if batch:
            self.inflight.append(self.submit(self._send(batch)))

    async def _send(self, batch: list[tuple[int, bytes, bytes]]) -> None:
        producer = await self.producer()
        # timestamp None: the producer stamps each record when it sends it (the index's delay is measured from it)
        pending = [await producer.send(self.topic, key, value, partition, None, None) for partition, key, value in batch]
        await asyncio.gather(*pending)
        self.sent += len(batch)

    async def delivered(self) -> None:
        while self.inflight:
            future = self.inflight.pop(0)
            try:
                await asyncio.wait_for(asyncio.wrap_future(future), PUBLISH_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - the results still go out; say what other workers miss
                self.failed += 1
                log.error("duplicates: could not write a batch of entries to %s (%r): other workers will not "
                          "compare against these posts", self.topic, exc)


class CopyTail(TopicFollower):
    """Reads every partition of ``<prefix>copies`` from its beginning into the finder's cluster state."""

    label = "copy index"

    def __init__(self, settings: Settings, finder: "CopyFinder") -> None:
        super().__init__(settings, "mmstream-copy-index")
        self.finder, self.topic = finder, settings.topic("copies")
        self.records = self.unreadable = 0
        self.delays: deque[float] = deque(maxlen=10_000)  # seconds, sent to ingested, latest last
        self.caught_up = threading.Event()

    def consume(self) -> None:
        from kafka import TopicPartition

        from mmstream.kafka.clients import kafka_consumer

        consumer = kafka_consumer(self.settings, "mmstream-copy-index", isolation_level="read_committed")
        try:
            ids = consumer.partitions_for_topic(self.topic)
            while not ids and not self._stop_event.is_set():
                self._stop_event.wait(0.2)
                ids = consumer.partitions_for_topic(self.topic)
            partitions = [TopicPartition(self.topic, p) for p in sorted(ids or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            while not self._stop_event.is_set():
                for messages in consumer.poll(timeout_ms=POLL_MS).values():
                    self._ingest(messages)
                if not self.caught_up.is_set() and all(
                        (hw := consumer.highwater(tp)) is not None and consumer.position(tp) >= hw for tp in partitions):
                    self.caught_up.set()
        finally:
            consumer.close(autocommit=False)

    def _ingest(self, messages: list) -> None:
        entries = []
        for message in messages:
            try:
                entry = json.loads(message.value or b"null")
                if not isinstance(entry, dict) or not {"id", "t", "key", "sig", "root"} <= entry.keys():
                    raise ValueError("not a copies entry")
                entries.append(entry)
            except ValueError as exc:
                self.unreadable += 1
                log.warning("copy index: skipped record %s of %s (%r)", message.offset, self.topic, exc)
        self.finder.ingest(entries)
        self.records += len(entries)
        now = time.time() * 1000
        if self.caught_up.is_set():  # delays of live entries only, not the start's read-back
            self.delays.extend(max(0.0, (now - m.timestamp) / 1000) for m in messages if m.timestamp)

    def describe(self) -> dict:
        delays = sorted(self.delays)

        def q(f: float) -> float | None:
            return round(delays[min(len(delays) - 1, int(f * len(delays)))], 4) if delays else None

        return {"records": self.records, "unreadable": self.unreadable, "caught_up": self.caught_up.is_set(),
                "errors": self.errors, "last_error": self.last_error,
                "delay_p50_s": q(0.5), "delay_p99_s": q(0.99), "delay_max_s": delays[-1] if delays else None}


#: the copies sink of each worker context (the plugin's ``register_sinks`` asks for it)
_SINKS: "weakref.WeakKeyDictionary[Any, CopyPublisher]" = weakref.WeakKeyDictionary()


def install_copy_index(context: Any, settings: Settings, finder: "CopyFinder") -> CopyTail:
    """In a worker, cluster scope: the finder's sink (:func:`copies_sink`) and the tail, started with the
    worker and stopped at its shutdown."""
    from mmstream.kafka import catalogue

    tail = CopyTail(settings, finder)
    _SINKS[context] = CopyPublisher(finder, settings.topic("copies"),
                                    catalogue.topic("copies").partition_count(settings), context.submit,
                                    context.faust_app.maybe_start_producer)
    finder.tail = tail

    async def start() -> None:
        tail.start()

    async def stop() -> None:
        tail.stop()

    context.add_task(start)
    context.on_shutdown(stop)
    return tail


def copies_sink(context: Any) -> list[Sink]:
    """The copies sink of this worker, when its duplicates are in cluster scope (else none)."""
    sink = _SINKS.get(context)
    return [sink] if sink is not None else []
