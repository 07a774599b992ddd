"""How long the worker's Kafka consumer lets the broker hold a fetch when there is no data.

Faust 0.15.3 builds its aiokafka consumer with ``fetch_max_wait_ms=1500``,
not configurable. A real Kafka answers a parked fetch as soon as a record
arrives (``fetch_min_bytes=1``), so the wait costs nothing there; tansu, the
embedded broker, holds the fetch for the whole wait. Measured on tansu with
one record every 50 ms: receive delay p50 402 ms, max 734 ms at 1,500 ms; p50
32, max 81 at 100 ms; p50 6, max 17 at 20 ms. Every post that arrives while
the worker is idle pays that delay, so at moderate load it dominates the
event-to-result latency.

:func:`set_fetch_max_wait` makes every Faust worker consumer created after
the call use ``ms`` instead (one fetch request per ``ms`` while idle).
"""
from __future__ import annotations

from typing import Any

_MARK = "_mmstream_fetch_max_wait_ms"


def set_fetch_max_wait(ms: int) -> None:
    """Use ``ms`` as the worker consumer's ``fetch_max_wait_ms`` (idempotent; the last call wins)."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    cls: Any = AIOKafkaConsumerThread
    if not hasattr(cls, _MARK):
        original = cls._create_worker_consumer

        def create_worker_consumer(self: Any, transport: Any) -> Any:
            consumer = original(self, transport)
            # read by AIOKafkaConsumer.start() when it builds its Fetcher
            consumer._fetch_max_wait_ms = getattr(cls, _MARK)
            return consumer

        cls._create_worker_consumer = create_worker_consumer
    setattr(cls, _MARK, max(1, int(ms)))
