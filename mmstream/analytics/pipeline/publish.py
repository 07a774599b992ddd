"""Publishing mentions: one per result to ``<prefix>mentions``, before the results go out.

:class:`MentionPublisher` is a sink (worker only): it turns a batch's results into mentions
(:func:`mention_of`), routes them to the engine partitions (:mod:`mmstream.analytics.engine.routing`)
and hands the records to ``send``; the worker's agent awaits ``wait`` (the broker has them) before
it acks the batch, so a crash can duplicate mentions (the engine drops duplicates by post id), not
lose them.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from mmstream.analytics.engine.events import Mention, TopicRef, encode_mentions
from mmstream.analytics.engine.routing import route
from mmstream.analytics.engine.windows import complaint_of
from mmstream.analytics.pipeline.assign import post_embedding, post_text
from mmstream.plugin.stages import Sink

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.plugin import Item

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT = 30.0


def mention_of(item: Item, pt: float | None = None, exclude: str = "none") -> Mention:
    """The mention for a result (after every other enricher ran), published at ``pt``; ``exclude``
    (MMSTREAM_CAMPAIGN_EXCLUDE): none, campaigns or duplicates (campaign posts included) are
    counted in brand windows as such only."""
    record, post = item.record, item.post
    assert record is not None and post is not None
    sentiment = record.get("sentiment")  # null: the model read nothing of the post
    dup, campaign = record.get("duplicate_of"), record.get("campaign")
    excluded = (exclude == "campaigns" and campaign is not None) or (
        exclude == "duplicates" and (campaign is not None or dup is not None))
    return Mention(
        id=post.id, t=post.created_at.timestamp(), brands=list(record.get("brands") or []),
        label=sentiment["label"] if sentiment else None, score=float(sentiment["score"]) if sentiment else None,
        topics=[TopicRef(t["id"], t["kind"], t["label"]) for t in record.get("topics", [])],
        vec=post_embedding(item), text=post_text(item),
        src=item.source.partition if item.source is not None else None, pt=pt, complaint=complaint_of(record),
        duplicate_of=dup, campaign=campaign, excluded=excluded)


class MentionPublisher(Sink):
    """A sink: hands the mentions of a batch's results to ``send``, as records (see
    :func:`~mmstream.analytics.engine.events.encode_mentions`); the worker's agent
    awaits ``wait`` (their delivery) before it acks the batch."""

    name = "mentions"

    def __init__(self, send: Callable[[list], None], wait: Callable[[], Awaitable[None]] | None = None,
                 partitions: int | None = None, exclude: str = "none") -> None:
        self.send = send
        self.exclude = exclude  # MMSTREAM_CAMPAIGN_EXCLUDE (mention_of)
        self.wait = wait
        #: engine partitions: ``send`` gets (partition, record) pairs routed by brand
        #: (mmstream.analytics.engine.routing); None: plain records, unrouted (a benchmark's list)
        self.partitions = partitions
        self.failed = 0

    async def delivered(self) -> None:
        if self.wait is not None:
            await self.wait()

    def write(self, items: list[Item]) -> None:
        now = round(time.time(), 3)  # processing time, for the watermark's idle partitions
        mentions = [mention_of(item, now, self.exclude) for item in items if item.post is not None]
        if not mentions:
            return
        try:
            self.send(encode_mentions(mentions) if self.partitions is None else route(mentions, self.partitions))
        except Exception as exc:  # noqa: BLE001 - the results still go out; say loudly what analytics miss
            self.failed += len(mentions)
            log.error("could not publish %d mentions (%r): analytics miss these posts (%d so far)",
                      len(mentions), exc, self.failed)


class MentionOutbox:
    """The mention records of the model thread, sent from the event loop in the order they were
    handed over; :meth:`delivered` waits until the broker has all of them.

    ``submit(coro)`` runs a coroutine on the worker's event loop from another thread (a
    :class:`concurrent.futures.Future`); ``producer()`` is the worker's started producer, whose
    ``send(topic, key, value, partition, timestamp, headers)`` queues a record in order and returns
    the future of its delivery: a batch's records are all queued, then awaited together."""

    def __init__(self, topic: str, submit: Callable[[Awaitable[None]], Any], producer: Callable[[], Awaitable[Any]],
                 on_failure: Callable[[], None] = lambda: None) -> None:
        self.topic, self.submit, self.producer = topic, submit, producer
        self.on_failure = on_failure  # a batch could not be published (counted by the publisher: /metrics)
        self._inflight: list[Any] = []  # concurrent futures of mention batches not yet confirmed

    def publish(self, batch: list[tuple[int, bytes]]) -> None:
        """Hand a batch's mention records (engine partition, value) to the producer without
        waiting (the model thread goes on); :meth:`delivered` waits for them before the batch is acked."""
        if batch:
            self._inflight.append(self.submit(self._send(batch)))

    async def delivered(self) -> None:
        """Wait until the broker has every mention published so far (the agent
        calls this before acking a batch: a crash can duplicate mentions, never lose them)."""
        while self._inflight:
            future = self._inflight.pop(0)
            try:
                await asyncio.wait_for(asyncio.wrap_future(future), PUBLISH_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - results still go out; say loudly what analytics miss
                self.on_failure()
                log.error("could not publish mentions (%r): analytics miss a batch of posts", exc)

    async def _send(self, batch: list[tuple[int, bytes]]) -> None:
        producer = await self.producer()
        pending = [await producer.send(self.topic, None, value, partition, None, None) for partition, value in batch]
        await asyncio.gather(*pending)
