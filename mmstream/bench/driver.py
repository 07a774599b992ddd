"""The Kafka side of the benchmark: one producer that sends a phase's posts
(all at once, or paced at a fixed rate) and one collector that reads every
output record of the system under test. aiokafka, one event loop, in the
bench process.

Times, all from the same wall clock (``time.time()``, one machine):

* ``sent``: taken just before a post is handed to the producer; it is also the
  input record's Kafka timestamp;
* ``ts_ms``: the output record's Kafka timestamp (CreateTime), which the
  worker's producer stamps when it appends the result to its send buffer:
  the moment the result exists as a Kafka record;
* ``received``: when the collector read the output (includes fetch waits).

Event-to-result latency is ``ts_ms - sent``; throughput at saturation is
posts / (last ``ts_ms`` - first ``sent``).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from mmstream.settings import bootstrap_servers

RESULT, DEAD_LETTER = "result", "dead_letter"


@dataclass
class Output:
    kind: str  # RESULT or DEAD_LETTER
    ts_ms: int
    received: float
    value: bytes | None


@dataclass
class Phase:
    """What one phase sent and what came back for it."""

    name: str
    sent: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    rate: float | None = None
    missing: int = 0

    @property
    def n(self) -> int:
        return len(self.sent)

    @property
    def dead_letters(self) -> int:
        return sum(o.kind == DEAD_LETTER for o in self.outputs.values())

    def throughput(self) -> float | None:
        """Posts per second from the first produce to the last result record."""
        if not self.outputs or self.missing:
            return None
        first = min(self.sent.values())
        last = max(o.ts_ms for o in self.outputs.values()) / 1000.0
        return self.n / max(last - first, 1e-6)

    def latencies_ms(self, received: bool = False) -> list[float]:
        """Per post: output record timestamp (or receive time) minus produce time."""
        out = []
        for post_id, output in self.outputs.items():
            end = output.received * 1000.0 if received else float(output.ts_ms)
            out.append(end - self.sent[post_id] * 1000.0)
        return out


class Collector:
    """Reads the output topics from offset 0 into ``outputs`` (by record key,
    the post id; a duplicate from an at-least-once replay is counted, not kept)."""

    def __init__(self, bootstrap: list[str], topics: dict[str, str], partitions: int) -> None:
        self.bootstrap, self.topics, self.partitions = bootstrap, topics, partitions
        self.outputs: dict[str, Output] = {}
        self.duplicates = 0
        self._consumer = None
        self._task: asyncio.Task | None = None
        self._arrived = asyncio.Event()

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                          auto_offset_reset="earliest", fetch_max_wait_ms=20)
        await self._consumer.start()
        parts = [TopicPartition(t, p) for t in self.topics for p in range(self.partitions)]
        self._consumer.assign(parts)
        for tp in parts:
            self._consumer.seek(tp, 0)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            now = time.time()
            for tp, messages in batches.items():
                kind = self.topics[tp.topic]
                for m in messages:
                    key = m.key.decode("utf-8", "replace") if m.key else f"?{tp.topic}:{tp.partition}:{m.offset}"
                    if key in self.outputs:
                        self.duplicates += 1
                        continue
                    self.outputs[key] = Output(kind, int(m.timestamp), now, m.value)
            if batches:
                self._arrived.set()

    async def wait_for(self, ids: Sequence[str], timeout: float, alive: Callable[[], bool]) -> int:
        """Wait until every id has an output; the number still missing at the deadline
        (or when ``alive()`` turns false)."""
        deadline = time.monotonic() + timeout
        while True:
            missing = sum(1 for i in ids if i not in self.outputs)
            if not missing or time.monotonic() >= deadline or not alive():
                return missing
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._consumer is not None:
            await self._consumer.stop()


class Driver:
    """Producer + collector for one system (its input topic and output topics)."""

    def __init__(self, broker: str, posts_topic: str, results_topic: str, dead_topic: str, partitions: int) -> None:
        self.bootstrap = bootstrap_servers(broker)
        self.posts_topic = posts_topic
        self.collector = Collector(self.bootstrap, {results_topic: RESULT, dead_topic: DEAD_LETTER}, partitions)
        self._producer = None

    async def __aenter__(self) -> "Driver":
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks=1, linger_ms=0,
                                          enable_idempotence=False, max_request_size=16 * 1024 * 1024)
        await self._producer.start()
        await self.collector.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.collector.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, phase: Phase, records: Sequence[tuple[str, bytes]], *, rate: float | None,
                   start: float | None = None) -> None:
        """Send ``records`` (``(id, value)``) all at once (``rate`` None) or ``rate`` per second from
        ``start`` (``time.monotonic()``; default now), noting each send time in ``phase.sent``."""
        assert self._producer is not None
        pending = []
        start = time.monotonic() if start is None else start
        for i, (post_id, value) in enumerate(records):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            now = time.time()
            phase.sent[post_id] = now
            pending.append(await self._producer.send(self.posts_topic, value, key=post_id.encode(),
                                                     timestamp_ms=int(now * 1000)))
        await asyncio.gather(*pending)

    async def run(self, name: str, records: Sequence[tuple[str, bytes]], *, rate: float | None, timeout: float,
                  alive: Callable[[], bool] = lambda: True) -> Phase:
        """Send ``records`` (``(id, value)``) all at once (``rate`` None) or ``rate`` per
        second; wait for every output; the phase."""
        phase = Phase(name, rate=rate)
        await self.send(phase, records, rate=rate)
        ids = [post_id for post_id, _ in records]
        phase.missing = await self.collector.wait_for(ids, timeout, alive)
        phase.outputs = {i: self.collector.outputs[i] for i in ids if i in self.collector.outputs}
        return phase
