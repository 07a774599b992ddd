"""Exactly-once delivery (``MMSTREAM_PROCESSING_GUARANTEE=exactly_once``): each
micro-batch's outcomes and the input offsets they answer are written in one Kafka
transaction, so a ``read_committed`` consumer sees every post's outcome once, even
after a worker is killed mid-batch.

* One transactional producer per input partition of ``posts``
  (``transactional.id`` = ``<app id>-enrich-<partition>``): the worker that takes a
  partition over opens a producer with the same id, which fences the previous owner
  and aborts its open transaction (Kafka's zombie fencing).
* A batch spanning several partitions commits one transaction per partition
  (concurrently): outcomes of that partition's records plus
  ``send_offsets_to_transaction`` of the next offset to read, for the consumer group.
* Faust's own offset commits for ``posts`` are turned off
  (:func:`mmstream.kafka.faust_patches.hand_commits_to_transactions`): a late plain commit could
  otherwise move the group back behind a transaction's.
* A record the broker refuses (too large) aborts that transaction; it is retried once
  with that outcome replaced by an ``output_failed`` dead letter.

The mentions feeding the analytics stay at-least-once (the engine drops duplicates by
post id). Refused at start-up, with the fix, by a broker without transactions (tansu).
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any, Callable, Sequence

from mmstream.errors import ConfigError
from mmstream.kafka.security import aiokafka_config
from mmstream.settings import Settings

log = logging.getLogger(__name__)

GUARANTEES = ("at_least_once", "exactly_once")
FIX = "set MMSTREAM_PROCESSING_GUARANTEE=at_least_once, or use a broker with transactions (Apache Kafka 0.11+)"


def exactly_once(settings: Settings) -> bool:
    """Whether ``settings`` ask for transactions; ConfigError for an unknown guarantee."""
    value = (settings.processing_guarantee or "at_least_once").strip().lower()
    if value not in GUARANTEES:
        raise ConfigError(f"MMSTREAM_PROCESSING_GUARANTEE={settings.processing_guarantee!r} is not one of "
                          f"{', '.join(GUARANTEES)}")
    return value == "exactly_once"


async def check_transactions(settings: Settings, timeout: float = 15.0) -> None:
    """Start (and stop) a transactional producer: ConfigError naming the setting when
    the broker cannot give one (tansu answers InitProducerId with an error)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(transactional_id=f"{settings.app_id}-probe", request_timeout_ms=int(timeout * 1000),
                                **aiokafka_config(settings))
    try:
        await asyncio.wait_for(producer.start(), timeout)
    except Exception as exc:  # noqa: BLE001 - any refusal means no transactions here
        raise ConfigError(f"MMSTREAM_PROCESSING_GUARANTEE=exactly_once needs Kafka transactions, and the broker at "
                          f"{settings.broker} gave none ({exc!r}); {FIX}") from None
    finally:
        try:
            await asyncio.wait_for(producer.stop(), timeout)
        except Exception:  # noqa: BLE001 - the probe's own clean-up
            pass


class TransactionalDelivery:
    """Writes a batch's outcomes with the batch's offsets, one transaction per input partition."""

    def __init__(self, settings: Settings, input_topic: str, group_id: str,
                 targets: dict[str, str], failed_record: Callable[[Any, BaseException], bytes],
                 owns: Callable[[int], bool] = lambda partition: True) -> None:
        self.settings, self.input_topic, self.group_id = settings, input_topic, group_id
        self.targets, self.failed_record = targets, failed_record
        self.owns = owns  # whether this worker is assigned that input partition now
        self._producers: dict[int, Any] = {}
        self.transactions = 0
        self.aborted = 0

    async def _producer(self, partition: int) -> Any:
        from aiokafka import AIOKafkaProducer

        if partition not in self._producers:
            s = self.settings
            producer = AIOKafkaProducer(transactional_id=f"{self.group_id}-enrich-{partition}",
                                        linger_ms=int(s.producer_linger * 1000), max_batch_size=s.producer_max_batch_bytes,
                                        **aiokafka_config(s))
            await producer.start()  # InitProducerId: fences the partition's previous owner
            self._producers[partition] = producer
        return self._producers[partition]

    async def deliver(self, events: Sequence[Any], outcomes: Sequence[Any],
                      encode: Callable[[Any], tuple[bytes | None, bytes]]) -> None:
        """Commit every outcome with its batch's offsets; raises (nothing acked) on a failure
        other than a refused record, e.g. when another worker fenced this one."""
        by_partition: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        for event, outcome in zip(events, outcomes, strict=True):
            by_partition[event.message.partition].append((event, outcome))
        await asyncio.gather(*(self._commit_partition(p, pairs, encode) for p, pairs in by_partition.items()))

    async def _commit_partition(self, partition: int, pairs: list[tuple[Any, Any]],
                                encode: Callable[[Any], tuple[bytes | None, bytes]]) -> None:
        from aiokafka.errors import ProducerFenced

        try:
            await self._transaction(partition, pairs, encode)
        except ProducerFenced:
            # this worker's producer for the partition was fenced while another worker owned it (a
            # rebalance moved it away and back): a new producer, only if the partition is ours now
            if not self.owns(partition):
                raise
            log.info("transactional producer for partition %d was fenced; starting a new one", partition)
            await self._transaction(partition, pairs, encode)

    async def _transaction(self, partition: int, pairs: list[tuple[Any, Any]],
                           encode: Callable[[Any], tuple[bytes | None, bytes]]) -> None:
        from aiokafka.structs import TopicPartition

        producer = await self._producer(partition)
        offsets = {TopicPartition(self.input_topic, partition): max(e.message.offset for e, _ in pairs) + 1}
        # a routing record (mmstream.lanes) keeps its input's timestamp and names its input in a header
        records = [(self.targets[o.kind], *encode(o)) for _, o in pairs]
        extras = [{"timestamp_ms": int(o.timestamp * 1000) if getattr(o, "timestamp", None) else None,
                   "headers": getattr(o, "headers", None)} for _, o in pairs]
        for attempt in (1, 2):
            await producer.begin_transaction()
            try:
                futures = [await producer.send(topic, value, key=key, **extra)
                           for (topic, key, value), extra in zip(records, extras)]
                results = await asyncio.gather(*futures, return_exceptions=True)
                failed = [(i, r) for i, r in enumerate(results) if isinstance(r, BaseException)]
                if failed and attempt == 1:
                    raise _Refused(failed)
                await producer.send_offsets_to_transaction(offsets, self.group_id)
                await producer.commit_transaction()
                self.transactions += 1
                return
            except _Refused as refused:
                await producer.abort_transaction()
                self.aborted += 1
                for i, error in refused.failed:
                    outcome = pairs[i][1]
                    log.warning("Kafka refused the %s for %r (%r): dead-lettered", outcome.kind, outcome.key, error)
                    records[i] = (self.targets["dead_letter"], outcome.key.encode() if outcome.key else None,
                                  self.failed_record(outcome, error))
                    extras[i] = {}
            except BaseException:
                self._producers.pop(partition, None)
                try:
                    await producer.stop()  # an open transaction is aborted by the broker (or the next owner)
                except Exception:  # noqa: BLE001
                    pass
                raise

    async def stop(self) -> None:
        producers, self._producers = list(self._producers.values()), {}
        for producer in producers:
            try:
                await producer.stop()
            except Exception:  # noqa: BLE001 - stopping anyway
                pass


class _Refused(Exception):
    def __init__(self, failed: list[tuple[int, BaseException]]) -> None:
        super().__init__(f"{len(failed)} records refused")
        self.failed = failed
