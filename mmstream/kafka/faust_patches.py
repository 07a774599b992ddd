"""Every change mmstream makes to Faust's (and aiokafka's) internals, in one module, pinned to the
versions they were written against: :func:`check_pinned` fails loudly, naming the fix, before a
patch is applied on any other version (a private attribute that moved would otherwise be set
without effect, or break in the middle of a rebalance).

* :func:`set_fetch_max_wait`: the worker consumer's fetch wait. Faust 0.15.3 builds its aiokafka
  consumer with ``fetch_max_wait_ms=1500``, not configurable. A real Kafka answers a parked fetch
  as soon as a record arrives (``fetch_min_bytes=1``), so the wait costs nothing there; tansu, the
  embedded broker, holds the fetch for the whole wait. Measured on tansu with one record every
  50 ms: receive delay p50 402 ms, max 734 ms at 1,500 ms; p50 32, max 81 at 100 ms; p50 6, max 17
  at 20 ms. Every post that arrives while the worker is idle pays that delay, so at moderate load
  it dominates the event-to-result latency.
* :func:`hand_commits_to_transactions`: with ``MMSTREAM_PROCESSING_GUARANTEE=exactly_once`` the
  posts' offsets are committed inside Kafka transactions (:mod:`mmstream.worker.transactions`);
  Faust's own commits of that topic are dropped, since a late plain commit could move the group
  back behind a transaction's.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Mapping

from mmstream.errors import ConfigError

#: the distributions whose internals the patches touch, and the versions they were written against
#: (pyproject.toml pins the same)
PINNED: Mapping[str, str] = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}
_MARK = "_mmstream_fetch_max_wait_ms"


def check_pinned(installed: Mapping[str, str] | None = None) -> None:
    """ConfigError unless the installed versions (``installed``: name -> version, the environment's
    when None) are those in :data:`PINNED`."""
    for name, pinned in PINNED.items():
        if installed is not None:
            found = installed.get(name)
        else:
            try:
                found = version(name)
            except PackageNotFoundError:
                found = None
        if found != pinned:
            raise ConfigError(f"mmstream patches {name} {pinned}'s internals (mmstream/kafka/faust_patches.py), and "
                              f"{name} {found or '(none)'} is installed: pip install '{name}=={pinned}', or check "
                              "each patch against the new version and update PINNED")


def set_fetch_max_wait(ms: int) -> None:
    """Use ``ms`` as the worker consumer's ``fetch_max_wait_ms`` for every Faust worker consumer
    created after the call (idempotent; the last call wins)."""
    check_pinned()
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


def hand_commits_to_transactions(consumer: Any, topic: str) -> None:
    """Drop ``topic`` from the Faust consumer's offset commits (its offsets are committed inside the
    transactions); other topics (the analytics' mentions) are committed as before."""
    if getattr(consumer, "_mmstream_txn_commits", False):
        return
    check_pinned()
    original = consumer._commit

    async def _commit(offsets: Any) -> bool:
        rest = {tp: offset for tp, offset in offsets.items() if tp.topic != topic}
        return await original(rest) if rest else True

    consumer._commit = _commit
    consumer._mmstream_txn_commits = True
