"""Wiring the analytics into a worker's Faust app: :func:`analytics_for` (one
:class:`Analytics` per app) and :func:`install_engine`, called by the built-in
plugin :mod:`mmstream.analytics.plugin` from its hooks.

Where things run
----------------
* **Every worker**, in its pipeline: brand matching and topic *assignment*
  (read-only snapshot of the mined topics), then the mention publisher, which
  writes one mention per result to ``<prefix>mentions`` (one partition; a
  micro-batch's mentions share a record) and waits for the broker before the
  batch's offsets are acked.
* **One worker at a time**, the one the consumer group gives the single
  partition of ``<prefix>mentions``: the agent ``analytics`` runs the engine
  (windows, topic mining, alerts) and writes ``<prefix>brand-stats``,
  ``<prefix>late``, ``<prefix>topics`` and ``<prefix>alerts``. Mining in one
  place is what keeps topic ids free of conflicts between workers.
* **Every worker**, in a thread: the feed reads topics, brand-stats and alerts
  back into the snapshot and the query store; the HTTP pages read those.

Restarts
--------
The engine's state is a pure function of the mentions log. The agent tracks
the offset it expects next; when an event arrives at another offset (a fresh
worker resuming at its committed offset, or a partition that came back after
a rebalance) it rebuilds: replays the log from the beginning (or from where it
is, if it is behind) up to that offset with outputs discarded, then goes on.
Topic ids are therefore the same after a restart, and so are windows and
alerts; outputs emitted between the last commit and a crash are emitted again
(at-least-once; keys make duplicates recognisable). The log must be kept:
``<prefix>mentions`` needs a retention covering the analytics' history.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from mmstream.analytics.assign import MentionPublisher
from mmstream.analytics.brands import BrandCatalog
from mmstream.analytics.checkpoint import Checkpoints
from mmstream.analytics.engine import OUTPUT_TOPICS, AnalyticsEngine, Output
from mmstream.analytics.events import Mention, decode_mentions
from mmstream.analytics.feed import OutputFeed
from mmstream.analytics.http import register_routes
from mmstream.analytics.store import QueryStore
from mmstream.analytics.topicspace import TopicSnapshot
from mmstream.errors import BrokerError, ConfigError
from mmstream.settings import Settings

log = logging.getLogger(__name__)


class _QuietClose(logging.Filter):
    """kafka-python logs an ERROR when a consumer closes during a metadata refresh; it is harmless."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (str(record.msg).startswith("Metadata refresh: failed") and record.args
                    and type(record.args[0]).__name__ == "Cancelled")


logging.getLogger("kafka.cluster").addFilter(_QuietClose())
#: seconds without a record before a replay gives up
REPLAY_STALL = 30.0
PUBLISH_TIMEOUT = 30.0


class Analytics:
    """The analytics of one worker: engine, feed, store, and their topics."""

    def __init__(self, app: faust.App, settings: Settings, catalog: BrandCatalog | None = None) -> None:
        self.app, self.settings = app, settings
        self.mentions_topic = settings.topic("mentions")
        self.engine = AnalyticsEngine(settings)
        self.spec_names = [s.name for s in self.engine.specs]
        self.catalog = catalog
        self.store = QueryStore(catalog, settings.analytics_keep)
        self.snapshot = TopicSnapshot(settings.topic_assign)
        self.feed = OutputFeed(settings, self.snapshot, self.store)
        self.publisher = MentionPublisher(self._publish, self.delivered)
        self._inflight: list[Any] = []  # concurrent futures of mention batches not yet confirmed
        self.mentions = app.topic(self.mentions_topic, partitions=1)
        self.replays: list[dict] = []
        self.unreadable = 0  # mentions that could not be read (logged)
        self.replay_span: tuple[int, int] | None = None  # (from, to) while a replay runs (metrics read it)
        self.replay_position = 0
        self._replay_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-replay")
        self.checkpoints = Checkpoints(settings)
        self._since_checkpoint = 0  # mentions processed since the last checkpoint
        self._writing: asyncio.Future | None = None

    # -- publishing mentions (model thread) -----------------------------------
    def _publish(self, batch: list[bytes]) -> None:
        """Hand a batch's mentions to the producer without waiting (the model
        thread goes on); :meth:`delivered` waits for them before the batch is acked."""
        if batch:
            self._inflight.append(asyncio.run_coroutine_threadsafe(self._send(batch), self.app.loop))

    async def delivered(self) -> None:
        """Wait until the broker has every mention published so far (the agent
        calls this before acking a batch: a crash can duplicate mentions, never lose them)."""
        while self._inflight:
            future = self._inflight.pop(0)
            try:
                await asyncio.wait_for(asyncio.wrap_future(future), PUBLISH_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - results still go out; say loudly what analytics miss
                self.publisher.failed += 1
                log.error("could not publish mentions (%r): analytics miss a batch of posts", exc)

    async def _send(self, batch: list[bytes]) -> None:
        producer = await self.app.maybe_start_producer()
        pending = [await producer.send(self.mentions_topic, None, value, None, None, None) for value in batch]
        await asyncio.gather(*pending)

    # -- the engine (event loop) -----------------------------------------------
    async def catch_up(self, offset: int) -> None:
        """Make the engine's state that of mentions ``[0, offset)``: from the newest
        usable checkpoint at or before ``offset`` (if it is ahead of the engine), then
        by replaying the log from there."""
        start = self.engine.next_offset
        if offset < start:
            self.engine = AnalyticsEngine(self.settings)
            start = 0
        began = time.monotonic()
        loop = asyncio.get_running_loop()
        checkpoint = None
        if self.settings.analytics_checkpoint_every > 0:
            restored = await loop.run_in_executor(self._replay_thread, self.checkpoints.load, offset, start)
            if restored is not None:
                self.engine, start = restored, restored.next_offset
                checkpoint = start
        count = await loop.run_in_executor(self._replay_thread, self._replay, start, offset)
        self.engine.next_offset = offset
        self._since_checkpoint = 0
        info = {"from": start, "to": offset, "mentions": count, "checkpoint": checkpoint,
                "seconds": round(time.monotonic() - began, 3)}
        self.replays.append(info)
        log.warning("analytics: rebuilt state from %s mentions [%d, %d)%s in %.1f s", count, start, offset,
                    f" after the checkpoint at {checkpoint}" if checkpoint is not None else "", info["seconds"])

    def after_record(self, read: int) -> None:
        """Count ``read`` processed mentions; every ``analytics_checkpoint_every`` of them
        serialise the engine (here, between records) and write it in the replay thread."""
        every = self.settings.analytics_checkpoint_every
        if every <= 0:
            return
        self._since_checkpoint += read
        if self._since_checkpoint < every or (self._writing is not None and not self._writing.done()):
            return
        self._since_checkpoint = 0
        began = time.monotonic()
        offset, data = self.checkpoints.snapshot(self.engine)
        loop = asyncio.get_running_loop()
        self._writing = loop.run_in_executor(self._replay_thread, self.checkpoints.write, offset, data, began)
        self._writing.add_done_callback(_log_write_failure)

    def _replay(self, start: int, end: int) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from kafka import KafkaConsumer, TopicPartition

        from mmstream.kafka.clients import client_config

        # earliest: where retention has deleted the start of the log, the replay begins at the oldest
        # mention kept (kafka-python's default, latest, would jump to the end and rebuild nothing)
        consumer = KafkaConsumer(client_id="mmstream-analytics-replay", group_id=None, enable_auto_commit=False,
                                 auto_offset_reset="earliest", **client_config(self.settings))
        tp = TopicPartition(self.mentions_topic, 0)
        count, last_progress = 0, time.monotonic()
        try:
            consumer.assign([tp])
            consumer.seek(tp, start)
            position = self.replay_position = start
            self.replay_span = (start, end)
            while position < end:
                records = consumer.poll(timeout_ms=200).get(tp, [])
                for record in records:
                    if record.offset >= end:
                        position = end
                        break
                    count += self.process(record.offset, record.value)[0]  # outputs were sent before
                    position = self.replay_position = record.offset + 1
                if records:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > REPLAY_STALL:
                    raise BrokerError(f"replaying {self.mentions_topic} stalled at offset {position} of {end}")
        finally:
            self.replay_span = None
            consumer.close(autocommit=False)
        return count

    def process(self, offset: int, value: bytes | None) -> tuple[int, list[Output]]:
        """Feed the engine the mentions of the record at ``offset``: how many
        were read, and the engine's outputs."""
        outputs: list[Output] = []
        read = 0
        for i, line in enumerate(decode_mentions(value or b"")):
            try:
                mention = Mention.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                self.unreadable += 1
                log.error("analytics: skipped mention %d of the record at offset %d, it cannot be read (%r)",
                          i, offset, exc)
                continue
            read += 1
            outputs += self.engine.process(mention)
        return read, outputs

    def owns_engine(self) -> bool:
        try:
            return any(tp.topic == self.mentions_topic for tp in self.app.consumer.assignment())
        except Exception:  # noqa: BLE001 - no consumer yet
            return False

    def describe(self) -> dict:
        return {"engine_here": self.owns_engine(), "engine": self.engine.describe(), "replays": self.replays[-5:],
                "feed": {"caught_up": self.feed.caught_up.is_set(), "records": self.feed.records},
                "checkpoints": {"every": self.settings.analytics_checkpoint_every, "on_disk": self.checkpoints.offsets(),
                                "saved": self.checkpoints.saved[-3:]},
                "snapshot_topics": len(self.snapshot), "mentions_failed": self.publisher.failed,
                "mentions_unreadable": self.unreadable}


def analytics_for(app: faust.App, settings: Settings) -> Analytics:
    """The analytics of ``app``, made on the first call: the single-partition mentions
    topic (created and checked), the engine, the snapshot, the feed, the publisher."""
    analytics = getattr(app, "mmstream_analytics", None)
    if analytics is None:
        from mmstream.kafka.clients import ensure_topics

        ensure_topics(settings, [settings.topic("mentions")], 1)
        _check_single_partition(settings, settings.topic("mentions"))
        catalog = BrandCatalog.load(settings.brands_file) if settings.brands_file else None
        analytics = Analytics(app, settings, catalog)
        app.mmstream_analytics = analytics
    return analytics


def install_engine(app: faust.App, settings: Settings) -> Analytics:
    """Add the engine's agent, the feed's task and the pages to ``app``."""
    analytics = analytics_for(app, settings)
    outputs = {name: app.topic(settings.topic(name), partitions=settings.partitions) for name in OUTPUT_TOPICS}

    @app.agent(analytics.mentions, name="analytics")
    async def run_engine(stream: faust.Stream) -> None:
        async for event in stream.events():
            offset = event.message.offset
            if offset != analytics.engine.next_offset:
                await analytics.catch_up(offset)
            read, produced = analytics.process(offset, event.message.value)
            analytics.engine.next_offset = offset + 1
            analytics.after_record(read)
            for out in produced:
                await outputs[out.topic].send(key=out.key.encode(), value=_dumps(out.value))

    @app.task
    async def start_feed() -> None:
        analytics.feed.start()

    @app.on_before_shutdown.connect
    async def stop_feed(app: Any, **kwargs: Any) -> None:  # noqa: ARG001
        analytics.feed.stop()

    register_routes(app, analytics)
    return analytics


def _check_single_partition(settings: Settings, topic: str) -> None:
    """The engine must see every mention in one order: refuse a partitioned mentions topic."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaConsumer

    from mmstream.kafka.clients import client_config

    consumer = KafkaConsumer(client_id="mmstream-admin", **client_config(settings))
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
    finally:
        consumer.close()
    if len(partitions) > 1:
        raise ConfigError(f"{topic} has {len(partitions)} partitions; the analytics need exactly one. "
                          "Delete it and let the worker create it, or create it with one partition.")


def _log_write_failure(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("analytics: could not write a checkpoint (%r); a restart replays more of the log; check "
                  "MMSTREAM_DATA_DIR", future.exception())


def _dumps(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
