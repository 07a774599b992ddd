"""Wiring the analytics into a worker's Faust app: :func:`analytics_for` (one
:class:`Analytics` per app) and :func:`install_engine`, called by the built-in
plugin :mod:`mmstream.analytics.plugin` from its hooks.

Where things run
----------------
* **Every worker**, in its pipeline: brand matching and topic *assignment*
  (read-only snapshot of the mined topics), then the mention publisher, which
  writes the batch's mentions to ``<prefix>mentions``, partitioned by brand
  (:mod:`mmstream.analytics.routing`: one mention per brand's partition, the
  mining copy to partition 0, a progress line to every partition) and waits for
  the broker before the batch's offsets are acked.
* **Engine partitions**, each on the worker the consumer group gives it: the agent
  ``analytics`` runs one engine per partition held (windows, alerts and statistics
  of its brands; topic mining on partition 0, so topic ids are one space) and
  writes ``<prefix>late``, ``<prefix>topics``, ``<prefix>alerts`` and its closed
  windows to ``<prefix>window-totals``.
* **One worker at a time**, the one holding ``<prefix>window-totals``: the agent
  ``share-of-voice`` (:mod:`mmstream.analytics.share`) writes ``<prefix>brand-stats``
  once every engine partition is done with a window, share of voice exact.
* **Every worker**, in a thread: the feed reads topics, brand-stats and alerts
  back into the snapshot and the query store; the HTTP pages read those.

Restarts
--------
An engine's state is a pure function of its partition's log. The agent tracks,
per partition, the offset it expects next; when an event arrives at another
offset (a fresh worker resuming at its committed offset, or a partition that
came back after a rebalance) it rebuilds that engine: from its newest usable
checkpoint, then by replaying the log up to that offset with outputs discarded.
The share-of-voice stage does the same over ``window-totals`` (no checkpoints:
its log grows with windows, not mentions). Topic ids are therefore the same
after a restart, and so are windows and alerts; outputs emitted between the last
commit and a crash are emitted again (at-least-once; keys make duplicates
recognisable). The logs must be kept: ``<prefix>mentions`` needs a retention
covering the analytics' history.
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
from mmstream.analytics.copies import exclude_mode
from mmstream.analytics.engine import OUTPUT_TOPICS, AnalyticsEngine, Output
from mmstream.analytics.events import Mention, decode_mentions
from mmstream.analytics.feed import OutputFeed
from mmstream.analytics.http import register_routes
from mmstream.analytics.partitions import EngineGroup
from mmstream.analytics.routing import read_progress
from mmstream.analytics.share import ShareStage
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
    """The analytics of one worker: its engine partitions, the share-of-voice stage
    (when it holds ``<prefix>window-totals``), feed, store, and their topics."""

    def __init__(self, app: faust.App, settings: Settings, catalog: BrandCatalog | None = None) -> None:
        self.app, self.settings = app, settings
        self.mentions_topic = settings.topic("mentions")
        self.totals_topic = settings.topic("window-totals")
        self.partitions = max(1, settings.analytics_partitions)
        self.engine = EngineGroup(settings)  # "the engine": every engine partition held here
        self.spec_names = [s.name for s in self.engine.specs]
        self.catalog = catalog
        self.store = QueryStore(catalog, settings.analytics_keep)
        self.snapshot = TopicSnapshot(settings.topic_assign)
        self.feed = OutputFeed(settings, self.snapshot, self.store)
        self.publisher = MentionPublisher(self._publish, self.delivered, self.partitions, exclude_mode(settings))
        self._inflight: list[Any] = []  # concurrent futures of mention batches not yet confirmed
        self.mentions = app.topic(self.mentions_topic, partitions=self.partitions)
        self.totals = app.topic(self.totals_topic, partitions=1)
        self.stage = ShareStage(self.engine.specs)
        self.stage_next = 0  # the window-totals offset the stage expects next
        self.replays: list[dict] = []
        self.unreadable = 0  # mentions that could not be read (logged)
        self.replay_span: tuple[int, int] | None = None  # (from, to) while a replay runs (metrics read it)
        self.replay_position = 0
        self._replay_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-replay")

    # -- publishing mentions (model thread) -----------------------------------
    def _publish(self, batch: list[tuple[int, bytes]]) -> None:
        """Hand a batch's mention records (engine partition, value) to the producer without
        waiting (the model thread goes on); :meth:`delivered` waits for them before the batch is acked."""
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

    async def _send(self, batch: list[tuple[int, bytes]]) -> None:
        producer = await self.app.maybe_start_producer()
        pending = [await producer.send(self.mentions_topic, None, value, partition, None, None)
                   for partition, value in batch]
        await asyncio.gather(*pending)

    # -- the engines (event loop) ----------------------------------------------
    async def catch_up(self, partition: int, offset: int) -> None:
        """Make engine ``partition``'s state that of its mentions ``[0, offset)``: from the
        newest usable checkpoint at or before ``offset`` (if it is ahead of the engine), then
        by replaying the log from there."""
        held = self.engine.get(partition)
        start = held.engine.next_offset
        if offset < start:
            held.engine = AnalyticsEngine(self.settings, partition)
            start = 0
        began = time.monotonic()
        loop = asyncio.get_running_loop()
        checkpoint = None
        if self.settings.analytics_checkpoint_every > 0:
            restored = await loop.run_in_executor(self._replay_thread, held.checkpoints.load, offset, start)
            if restored is not None:
                held.engine, start = restored, restored.next_offset
                checkpoint = start
        count = await loop.run_in_executor(self._replay_thread, self._replay, self.mentions_topic, partition,
                                           start, offset, lambda o, v: self.process(partition, o, v)[0])
        held.engine.next_offset = offset
        held.since_checkpoint = 0
        info = {"partition": partition, "from": start, "to": offset, "mentions": count, "checkpoint": checkpoint,
                "seconds": round(time.monotonic() - began, 3)}
        self.replays.append(info)
        held.replays.append(info)
        log.warning("analytics: engine %d rebuilt from %s mentions [%d, %d)%s in %.1f s", partition, count, start,
                    offset, f" after the checkpoint at {checkpoint}" if checkpoint is not None else "", info["seconds"])

    async def catch_up_stage(self, offset: int) -> None:
        """Make the share-of-voice stage's state that of ``window-totals`` ``[0, offset)``
        (a small log: one record per engine partition and tumbling step, and per closed window)."""
        if offset < self.stage_next:
            self.stage, self.stage_next = ShareStage(self.engine.specs), 0
        began = time.monotonic()
        loop = asyncio.get_running_loop()
        def apply(_offset: int, value: bytes | None) -> int:
            self.observe_totals(value)  # outputs discarded: they were sent before
            return 1

        count = await loop.run_in_executor(self._replay_thread, self._replay, self.totals_topic, 0, self.stage_next,
                                           offset, apply)
        info = {"stage": True, "from": self.stage_next, "to": offset, "records": count,
                "seconds": round(time.monotonic() - began, 3)}
        self.stage_next = offset
        self.replays.append(info)
        log.warning("analytics: share-of-voice stage rebuilt from %d records in %.1f s", count, info["seconds"])

    def observe_totals(self, value: bytes | None) -> list[Output]:
        try:
            totals = json.loads(value or b"")
        except ValueError as exc:
            self.unreadable += 1
            log.error("analytics: skipped a window-totals record that cannot be read (%r)", exc)
            return []
        return self.stage.observe(totals)

    def after_record(self, partition: int, read: int) -> None:
        """Count ``read`` processed mentions of ``partition``; every ``analytics_checkpoint_every``
        of them freeze its engine (here, between records) and write it in the replay thread."""
        every = self.settings.analytics_checkpoint_every
        if every <= 0:
            return
        held = self.engine.get(partition)
        held.since_checkpoint += read
        if held.since_checkpoint < every or (held.writing is not None and not held.writing.done()):
            return
        held.since_checkpoint = 0
        began = time.monotonic()
        offset, frozen = held.checkpoints.snapshot(held.engine)
        loop = asyncio.get_running_loop()
        held.writing = loop.run_in_executor(self._replay_thread, held.checkpoints.write, offset, frozen, began)
        held.writing.add_done_callback(_log_write_failure)

    def _replay(self, topic: str, partition: int, start: int, end: int, apply: Any) -> int:
        """Read ``topic``'s ``partition`` over offsets ``[start, end)`` and ``apply(offset, value)``
        to each record (outputs discarded: they were sent before); the sum of what it returned."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from kafka import TopicPartition

        from mmstream.kafka.clients import kafka_consumer

        # earliest (the factory's default): where retention has deleted the start of the log, the replay
        # begins at the oldest record kept (kafka-python's default, latest, would rebuild nothing)
        consumer = kafka_consumer(self.settings, "mmstream-analytics-replay")
        tp = TopicPartition(topic, partition)
        count, last_progress = 0, time.monotonic()
        if start >= end:
            consumer.close(autocommit=False)
            return 0
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
                    count += apply(record.offset, record.value)
                    position = self.replay_position = record.offset + 1
                if records:
                    last_progress = time.monotonic()
                elif time.monotonic() - last_progress > REPLAY_STALL:
                    raise BrokerError(f"replaying {topic} partition {partition} stalled at offset {position} of {end}")
        finally:
            self.replay_span = None
            consumer.close(autocommit=False)
        return count

    def process(self, partition: int, offset: int, value: bytes | None) -> tuple[int, list[Output]]:
        """Feed engine ``partition`` the mentions of its record at ``offset``, then the
        record's progress line: how many mentions were read, and the engine's outputs."""
        engine = self.engine.engine(partition)
        outputs: list[Output] = []
        read = 0
        for i, line in enumerate(decode_mentions(value or b"")):
            try:
                mention = Mention.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                self.unreadable += 1
                log.error("analytics: skipped mention %d of the record at offset %d of partition %d, it cannot be "
                          "read (%r)", i, offset, partition, exc)
                continue
            read += 1
            outputs += engine.process(mention)
        progress = read_progress(value)
        if progress is not None:
            outputs += engine.advance(progress)
        return read, outputs

    def owns_engine(self) -> bool:
        """True when this worker holds at least one engine partition."""
        return bool(self.partitions_here())

    def partitions_here(self) -> list[int]:
        try:
            return sorted(tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.mentions_topic)
        except Exception:  # noqa: BLE001 - no consumer yet
            return []

    def describe(self) -> dict:
        return {"engine_here": self.owns_engine(), "engine_partitions": self.partitions_here(),
                "partitions": self.partitions, "engine": self.engine.describe(), "replays": self.replays[-5:],
                "share_stage": self.stage.describe(),
                "feed": {"caught_up": self.feed.caught_up.is_set(), "records": self.feed.records},
                "checkpoints": {"every": self.settings.analytics_checkpoint_every,
                                "on_disk": {str(p): h.checkpoints.offsets() for p, h in sorted(self.engine.held.items())},
                                "saved": [s for h in self.engine.held.values() for s in h.checkpoints.saved[-3:]]},
                "snapshot_topics": len(self.snapshot), "mentions_failed": self.publisher.failed,
                "mentions_unreadable": self.unreadable}


def analytics_for(app: faust.App, settings: Settings) -> Analytics:
    """The analytics of ``app``, made on the first call: the mentions topic (its
    ``MMSTREAM_ANALYTICS_PARTITIONS`` partitions) and ``window-totals`` (one), created and
    checked, the engines, the snapshot, the feed, the publisher."""
    analytics = getattr(app, "mmstream_analytics", None)
    if analytics is None:
        from mmstream.kafka.clients import ensure_topics

        partitions = max(1, settings.analytics_partitions)
        ensure_topics(settings, [settings.topic("mentions")], partitions)
        ensure_topics(settings, [settings.topic("window-totals")], 1)
        _check_partitions(settings, settings.topic("mentions"), partitions, "MMSTREAM_ANALYTICS_PARTITIONS")
        _check_partitions(settings, settings.topic("window-totals"), 1, None)
        catalog = BrandCatalog.load(settings.brands_file) if settings.brands_file else None
        analytics = Analytics(app, settings, catalog)
        app.mmstream_analytics = analytics
    return analytics


def install_engine(app: faust.App, settings: Settings) -> Analytics:
    """Add the engine partitions' agent, the share-of-voice stage's agent, the feed's task and the pages."""
    analytics = analytics_for(app, settings)
    outputs = {name: app.topic(settings.topic(name), partitions=settings.partitions)
               for name in (*OUTPUT_TOPICS, "brand-stats") if name != "window-totals"}
    outputs["window-totals"] = analytics.totals

    async def send(produced: list[Output]) -> None:
        for out in produced:
            await outputs[out.topic].send(key=out.key.encode(), value=_dumps(out.value))

    @app.agent(analytics.mentions, name="analytics")
    async def run_engine(stream: faust.Stream) -> None:
        async for event in stream.events():
            partition, offset = event.message.partition, event.message.offset
            held = analytics.engine.get(partition)
            if offset != held.engine.next_offset:
                await analytics.catch_up(partition, offset)
            read, produced = analytics.process(partition, offset, event.message.value)
            analytics.engine.get(partition).engine.next_offset = offset + 1
            analytics.after_record(partition, read)
            await send(produced)

    @app.agent(analytics.totals, name="share-of-voice")
    async def run_stage(stream: faust.Stream) -> None:
        async for event in stream.events():
            offset = event.message.offset
            if offset != analytics.stage_next:
                await analytics.catch_up_stage(offset)
            produced = analytics.observe_totals(event.message.value)
            analytics.stage_next = offset + 1
            await send(produced)

    @app.task
    async def start_feed() -> None:
        analytics.feed.start()

    @app.on_before_shutdown.connect
    async def stop_feed(app: Any, **kwargs: Any) -> None:  # noqa: ARG001
        analytics.feed.stop()

    register_routes(app, analytics)
    return analytics


def _check_partitions(settings: Settings, topic: str, want: int, setting: str | None) -> None:
    """Refuse a topic whose partition count is not the one the analytics are set up for
    (brands would land on engines that do not expect them)."""
    from mmstream.kafka.clients import kafka_consumer

    consumer = kafka_consumer(settings, "mmstream-admin")
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
    finally:
        consumer.close()
    if partitions and len(partitions) != want:
        fix = f"set {setting}={len(partitions)}, or " if setting else ""
        raise ConfigError(f"{topic} has {len(partitions)} partitions; the analytics need {want}. {fix.capitalize()}"
                          f"delete it and let the worker create it with {want}.")


def _log_write_failure(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("analytics: could not write a checkpoint (%r); a restart replays more of the log; check "
                  "MMSTREAM_DATA_DIR", future.exception())


def _dumps(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
