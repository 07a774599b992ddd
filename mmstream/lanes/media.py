"""The media lane: reads ``<prefix>media`` (records the text lane routed there, keyed by post id) in its
own consumer group and writes each post's one outcome to the enriched or dead-letter topic.

* At most one record in flight per partition, ``MMSTREAM_MEDIA_CONCURRENCY`` in all (each from another
  partition): a partition's offsets are committed in order, the next offset once the record's outcome is
  acknowledged (at-least-once), or in the outcome's transaction (``exactly_once``, through
  :class:`~mmstream.worker.transactions.TransactionalDelivery` with the media topic and group).
* Bounded memory: records are taken only for a free slot; a busy partition is paused and any record
  fetched past the one taken is given back (``seek``): the backlog stays in Kafka.
* A clip's time is bounded by its extractors' own budgets (``Extractor.timeout``: the audio and video
  plugins set theirs), as in the text lane.
* A failure to deliver (the broker away) retries the record after a pause; it is never skipped.
* Stopping (SIGTERM: :meth:`MediaLane.finish`, called before the worker's producer stops) takes no new
  record and lets the clips in flight finish, deliver and commit within a bound; only a clip still
  running then is dropped uncommitted, and read again by the partition's next owner.
"""
from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Sequence

from mmstream.pipeline.outcomes import Outcome

log = logging.getLogger(__name__)

Process = Callable[[Any], Awaitable[list[Outcome]]]  # one consumer record -> its outcomes
Send = Callable[[list[Outcome]], Awaitable[None]]  # produce and wait until the broker has them


class MediaLane:
    """``consumer``: makes the aiokafka consumer subscribed to the media topic (called on the event loop,
    not started; aiokafka needs a running loop to make one); ``process``
    turns a record into its outcomes; ``send`` delivers them (at-least-once), or ``transactional``
    (a TransactionalDelivery) commits them with the record's offset; ``encode`` as the worker's."""

    def __init__(self, consumer: Callable[[], Any], process: Process, send: Send, *, concurrency: int = 1,
                 transactional: Any = None, encode: Callable[[Outcome], tuple] | None = None,
                 on_done: Callable[[Any, list[Outcome], float], None] | None = None,
                 retry_after: float = 1.0) -> None:
        self.make_consumer, self.process, self.send = consumer, process, send
        self.consumer: Any = None
        self.concurrency = max(1, int(concurrency))
        self.transactional, self.encode = transactional, encode
        self.on_done = on_done  # (record, outcomes, seconds) once its outcomes are delivered
        self.retry_after = retry_after
        self.inflight: dict[Any, asyncio.Future] = {}  # partition -> its one record's task
        self.positions: dict[Any, int] = {}  # partition -> the next offset not yet delivered (for the lag)
        self.started = False  # the consumer started (joined or joining its group)
        self.stopping = False  # finish() was called: no new record is taken
        self.finished = asyncio.Event()  # run() has returned (its consumer stopped)
        self.done = 0
        self.failures = 0

    # -- the loop ----------------------------------------------------------------
    async def run(self) -> None:
        self.consumer = self.make_consumer()
        await self.consumer.start()
        self.started = True
        try:
            while not self.stopping:
                await self._step()
            # finish(): the records in flight deliver and commit (finish() cancels them at its bound)
            await asyncio.gather(*self.inflight.values(), return_exceptions=True)
        finally:
            tasks = list(self.inflight.values())
            for task in tasks:  # never delivered nor committed: the partition's next owner reads it again
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await self.consumer.stop()
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            self.finished.set()

    async def finish(self, timeout: float) -> int:
        """Stop taking records and give those in flight up to ``timeout`` s to be delivered and committed
        (an operator's SIGTERM, a scale-down: the clip is not transcribed twice), then stop the consumer.
        Returns how many records were still unfinished and dropped (read again by the next owner)."""
        self.stopping = True
        if not self.started:
            return 0
        before, pending = self.done, len(self.inflight)
        if pending:
            log.info("media lane: stopping; %d record(s) in flight get up to %g s to finish", pending, timeout)
        try:  # run() returns once its records in flight are done (or after a getmany of at most 200 ms)
            await asyncio.wait_for(asyncio.shield(self.finished.wait()), max(0.0, timeout))
        except asyncio.TimeoutError:
            for task in list(self.inflight.values()):
                task.cancel()  # not delivered nor committed: read again by the partition's next owner
            try:
                await asyncio.wait_for(self.finished.wait(), 5.0)
            except asyncio.TimeoutError:
                log.warning("media lane: its consumer did not stop within 5 s")
        dropped = max(0, pending - (self.done - before))
        if dropped:
            log.warning("media lane: %d record(s) unfinished after %g s: not committed, read again by the "
                        "partition's next owner", dropped, timeout)
        return dropped

    async def _step(self) -> None:
        if len(self.inflight) >= self.concurrency:
            await asyncio.wait(list(self.inflight.values()), return_when=asyncio.FIRST_COMPLETED)
            return
        assigned = set(self.consumer.assignment())
        busy = {tp for tp in self.inflight if tp in assigned}
        if busy:
            self.consumer.pause(*busy)
        idle = assigned - busy
        if idle:
            self.consumer.resume(*idle)
        batch = await self.consumer.getmany(timeout_ms=200, max_records=self.concurrency - len(self.inflight))
        for tp, records in batch.items():
            if not records or self.stopping:  # (stopping: left uncommitted, for the partition's next owner)
                continue
            if tp in self.inflight or len(self.inflight) >= self.concurrency:
                self.consumer.seek(tp, records[0].offset)  # given back: read again once a slot is free
                continue
            if len(records) > 1:
                self.consumer.seek(tp, records[1].offset)
            self.positions[tp] = records[0].offset
            self.inflight[tp] = asyncio.ensure_future(self._one(tp, records[0]))

    async def _one(self, tp: Any, record: Any) -> None:
        began = time.perf_counter()
        try:
            outcomes = await self.process(record)
            if self.transactional is not None:
                await self.transactional.deliver([SimpleNamespace(message=record)] * len(outcomes), outcomes,
                                                 self.encode)
            else:
                await self.send(outcomes)
                await self._commit(tp, record.offset + 1)
            self.done += 1
            self.positions[tp] = record.offset + 1
            if self.on_done is not None:
                self.on_done(record, outcomes, time.perf_counter() - began)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - not delivered: the record is read again, never skipped
            self.failures += 1
            log.warning("media lane: %s[%d]@%d not delivered (%r); retrying in %g s", tp.topic, tp.partition,
                        record.offset, exc, self.retry_after)
            await asyncio.sleep(self.retry_after)
            try:
                if tp in self.consumer.assignment():
                    self.consumer.seek(tp, record.offset)
            except Exception:  # noqa: BLE001 - revoked meanwhile: its next owner reads it from the commit
                pass
        finally:
            self.inflight.pop(tp, None)

    async def _commit(self, tp: Any, offset: int) -> None:
        from aiokafka.errors import CommitFailedError, IllegalStateError

        try:
            await self.consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # the partition moved to another worker meanwhile: it reads the record again from the last
            # commit and writes the same outcome (results are deterministic and keyed by post id)
            log.info("media lane: commit of %s[%d]@%d refused after a rebalance (%r)", tp.topic, tp.partition,
                     offset, exc)

    async def note_committed(self, partitions: Sequence[Any]) -> None:
        """On assignment: each partition's committed offset as its position, so the lag metric counts its
        backlog (0 when idle) before a record of it is taken. A partition never committed stays unknown."""
        for tp in partitions:
            if tp in self.inflight:
                continue
            try:
                committed = await self.consumer.committed(tp)
            except Exception:  # noqa: BLE001 - the metric only: known at the first record taken
                continue
            if committed is not None:
                self.positions[tp] = committed

    async def drain(self, partitions: Sequence[Any], timeout: float) -> None:
        """Wait (up to ``timeout`` s) for the records in flight from ``partitions``: called when they are
        revoked, so their commits land before the next owner reads them."""
        tasks = [task for tp, task in self.inflight.items() if tp in set(partitions)]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


def revoke_listener(lane_ref: Callable[[], MediaLane | None], timeout: float) -> Any:
    """A rebalance listener that drains the lane's revoked partitions first."""
    from aiokafka import ConsumerRebalanceListener

    class Drain(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked: Any) -> None:
            lane = lane_ref()
            if lane is not None:
                await lane.drain(list(revoked), timeout)

        async def on_partitions_assigned(self, assigned: Any) -> None:
            lane = lane_ref()
            if lane is not None:
                await lane.note_committed(list(assigned))

    return Drain()
