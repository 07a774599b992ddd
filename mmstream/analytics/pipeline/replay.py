"""Running the engines in a worker: each record of ``<prefix>mentions`` and ``<prefix>window-totals``
fed in log order, and a rebuild whenever a record arrives at another offset than the one expected.

An engine's state is a pure function of its partition's log. :class:`EngineRunner` tracks, per
partition, the offset it expects next; when a record arrives at another offset (a fresh worker
resuming at its committed offset, or a partition that came back after a rebalance) it rebuilds that
engine: from its newest usable checkpoint (:mod:`mmstream.analytics.state.checkpoint`), then by
replaying the log up to that offset with outputs discarded. The share-of-voice stage does the same
over ``window-totals`` (no checkpoints: its log grows with windows, not mentions). Topic ids are
therefore the same after a restart, and so are windows and alerts; outputs emitted between the last
commit and a crash are emitted again (at-least-once; keys make duplicates recognisable).
Replays and checkpoint writes run in one thread of their own, off the event loop.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from mmstream.analytics.engine.core import AnalyticsEngine, Output
from mmstream.analytics.engine.events import Mention, decode_mentions
from mmstream.analytics.engine.routing import read_progress
from mmstream.analytics.engine.share import ShareStage
from mmstream.analytics.pipeline.partitions import EngineGroup
from mmstream.errors import BrokerError
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


class EngineRunner:
    """The engine partitions held here and the share-of-voice stage, with their replays."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mentions_topic = settings.topic("mentions")
        self.totals_topic = settings.topic("window-totals")
        self.engine = EngineGroup(settings)  # "the engine": every engine partition held here
        self.stage = ShareStage(self.engine.specs)
        self.stage_next = 0  # the window-totals offset the stage expects next
        self.replays: list[dict] = []
        self.unreadable = 0  # mentions that could not be read (logged)
        self.replay_span: tuple[int, int] | None = None  # (from, to) while a replay runs (metrics read it)
        self.replay_position = 0
        self._replay_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-replay")

    # -- one record at a time (the agents) ------------------------------------------
    async def mentions_record(self, partition: int, offset: int, value: bytes | None) -> list[Output]:
        """Engine ``partition``'s outputs for its record at ``offset`` (rebuilt first if it expected another)."""
        held = self.engine.get(partition)
        if offset != held.engine.next_offset:
            await self.catch_up(partition, offset)
        read, produced = self.process(partition, offset, value)
        self.engine.get(partition).engine.next_offset = offset + 1
        self.after_record(partition, read)
        return produced

    async def totals_record(self, offset: int, value: bytes | None) -> list[Output]:
        """The share-of-voice stage's outputs for the ``window-totals`` record at ``offset``."""
        if offset != self.stage_next:
            await self.catch_up_stage(offset)
        produced = self.observe_totals(value)
        self.stage_next = offset + 1
        return produced

    # -- rebuilding (event loop, the reading in the replay thread) ---------------------
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

    def _replay(self, topic: str, partition: int, start: int, end: int,
                apply: Callable[[int, bytes | None], int]) -> int:
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


def _log_write_failure(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("analytics: could not write a checkpoint (%r); a restart replays more of the log; check "
                  "MMSTREAM_DATA_DIR", future.exception())
