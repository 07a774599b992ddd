"""``Reader``: read mmstream's output topics in a consumer group, as typed records.

* A sync iterator of :class:`Message` (topic, key, typed record, where it came from).
* Resumes from the group's committed offsets (a new group starts at the beginning).
* Commits only what the caller has handled: a message counts as handled when the
  caller asks for the next one, calls :meth:`Reader.handled`, or leaves the
  ``with`` block without an exception. A crash or an exception in the loop body
  leaves the message being handled uncommitted: it is read again after a restart
  (at-least-once, as everywhere in mmstream).
* Keeps the last record per key (``reader.latest``) and skips a record equal to the
  last one of its key: the duplicates at-least-once delivery makes.
* The same Kafka and security settings as the worker (``MMSTREAM_*``,
  :func:`mmstream.kafka.security.kafka_python_config`).
"""
from __future__ import annotations

import json
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from mmstream.client.records import RECORD_TYPES, parse
from mmstream.errors import BrokerError, ConfigError, SchemaError
from mmstream.kafka.clients import CONNECT_TIMEOUT
from mmstream.kafka.security import kafka_python_config
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError
    from kafka.structs import OffsetAndMetadata


@dataclass(frozen=True)
class Message:
    """One record read: ``record`` is the typed record (None when ``error`` says why not)."""

    topic: str  # the name after the prefix: enriched, alerts ...
    key: str | None
    record: Any
    partition: int
    offset: int
    timestamp: int  # the Kafka timestamp, epoch ms
    value: Any  # the parsed JSON value (None when it was not JSON)
    raw: bytes | None = None
    error: SchemaError | None = None


class _Revocations(ConsumerRebalanceListener):
    def __init__(self, reader: "Reader") -> None:
        self.reader = reader

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.reader._revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        pass


class Reader:
    """Read ``topics`` (names after the prefix, a list or ``"enriched,alerts"``) in the
    consumer group ``group``. Use as a context manager and iterate::

        with Reader(["enriched"], group="crm-sync") as reader:
            for message in reader:
                save(message.record)

    ``errors="raise"`` (default) raises SchemaError for a record that does not match
    its schema; ``errors="yield"`` hands it over as a Message with ``error`` set.
    ``idle_timeout``: stop iterating after that many seconds without a record
    (None: wait for ever). Offsets are committed every ``commit_every`` handled
    messages or ``commit_interval`` seconds, and on close.
    """

    def __init__(self, topics: str | Iterable[str], group: str, settings: Settings | None = None, *,
                 dedupe: bool = True, keep_keys: int = 100_000, errors: str = "raise",
                 idle_timeout: float | None = None, commit_every: int = 100, commit_interval: float = 5.0,
                 max_records: int = 500, from_beginning: bool = True) -> None:
        self.settings = settings or Settings.load()
        names = [t.strip() for t in (topics.split(",") if isinstance(topics, str) else topics) if t.strip()]
        unknown = [t for t in names if t not in RECORD_TYPES]
        if not names or unknown:
            raise ConfigError(f"cannot read {unknown or 'no topics'}: the output topics are {', '.join(RECORD_TYPES)}")
        if errors not in ("raise", "yield"):
            raise ConfigError(f"errors={errors!r}: use 'raise' or 'yield'")
        if not group:
            raise ConfigError("a Reader needs a consumer group name (group=...): offsets are committed under it")
        self.topics, self.group, self.errors = names, group, errors
        self.dedupe, self.keep_keys, self.idle_timeout = dedupe, keep_keys, idle_timeout
        self.commit_every, self.commit_interval = commit_every, commit_interval
        self._full = {self.settings.topic(t): t for t in names}
        self.latest: OrderedDict[tuple[str, str | None], Message] = OrderedDict()
        self.duplicates = 0  # records skipped as equal to the last of their key
        self._buffer: list[Message] = []
        self._pending_duplicates: list[Message] = []
        self._delivered: Message | None = None  # yielded, not yet handled
        self._handled: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._committed: dict[TopicPartition, int] = {}
        self._since_commit, self._last_commit = 0, time.monotonic()
        session_ms = int(self.settings.broker_session_timeout * 1000)
        try:
            self._consumer = KafkaConsumer(
                client_id=f"mmstream-reader-{group}", group_id=group, enable_auto_commit=False,
                auto_offset_reset="earliest" if from_beginning else "latest", max_poll_records=max_records,
                session_timeout_ms=session_ms, heartbeat_interval_ms=max(100, session_ms // 3),
                bootstrap_timeout_ms=int(CONNECT_TIMEOUT * 1000), **kafka_python_config(self.settings))
        except KafkaError as exc:
            raise BrokerError(f"cannot reach Kafka at {self.settings.broker} ({exc}); check MMSTREAM_BROKER "
                              "and the security settings") from None
        self._consumer.subscribe(list(self._full), listener=_Revocations(self))
        self._closed = False

    # -- iteration -------------------------------------------------------------
    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None and self._delivered is not None:
            self.handled(self._delivered)  # the loop ended normally (break included): the caller handled it
        self.close()

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        if self._delivered is not None:
            self.handled(self._delivered)
            self._delivered = None
        self._maybe_commit()
        message = self._next_message()
        if message is None:
            raise StopIteration
        self._delivered = message
        return message

    def poll(self, timeout: float = 1.0) -> list[Message]:
        """The messages that arrive within ``timeout`` seconds (at most ``max_records``),
        duplicates skipped (and records breaking their schema included, ``error`` set,
        whatever ``errors`` says); none is handled until :meth:`handled` says so. For
        batch consumers such as the database sinks; do not mix with iteration."""
        if not self._buffer:
            self._fill(timeout)
        batch = []
        for message in self._buffer:
            if self._duplicate(message):
                self._pending_duplicates.append(message)
            else:
                batch.append(message)
        self._buffer = []
        return batch

    def _next_message(self) -> Message | None:
        idle_since = time.monotonic()
        while True:
            while not self._buffer:
                self._fill(1.0)
                self._maybe_commit()
                if not self._consumer.assignment():  # joining the group (or between rebalances) is not idleness
                    idle_since = time.monotonic()
                if not self._buffer and self.idle_timeout is not None and \
                        time.monotonic() - idle_since >= self.idle_timeout:
                    return None
            message = self._buffer.pop(0)
            if message.error is not None and self.errors == "raise":
                raise message.error  # not handled: the caller decides whether to go on
            if not self._duplicate(message):
                return message
            self.handled(message)  # everything before it was handled: skipping it is handling it

    def _fill(self, timeout: float) -> None:
        try:
            polled = self._consumer.poll(timeout_ms=int(timeout * 1000))
        except KafkaError as exc:
            hint = ("; the principal (MMSTREAM_SASL_USERNAME) needs READ and DESCRIBE on these topics and READ on "
                    f"the group {self.group!r}" if "Authorization" in type(exc).__name__ else "")
            raise BrokerError(f"reading {', '.join(self._full)} failed: {exc!r}{hint}") from None
        for records in polled.values():
            self._buffer += [self._decode(r) for r in records]

    def _duplicate(self, message: Message) -> bool:
        """Remember ``message`` as the last of its key; True when it equals the one before."""
        if not self.dedupe or message.error is not None:
            return False
        slot = (message.topic, message.key if message.key is not None else _dead_letter_key(message.record))
        last = self.latest.get(slot)
        self.latest[slot] = message
        self.latest.move_to_end(slot)
        if len(self.latest) > self.keep_keys:
            self.latest.popitem(last=False)
        if last is not None and last.value == message.value:
            self.duplicates += 1
            return True
        return False

    def _decode(self, r: Any) -> Message:
        topic = self._full[r.topic]
        key = r.key.decode("utf-8", errors="replace") if r.key is not None else None
        value, record, error = None, None, None
        try:
            value = json.loads(r.value) if r.value is not None else None
            record = parse(topic, value)
        except (ValueError, SchemaError) as exc:
            error = exc if isinstance(exc, SchemaError) else SchemaError(f"{topic}: the value is not JSON ({exc})")
        return Message(topic, key, record, r.partition, r.offset, r.timestamp, value, r.value,
                       SchemaError(f"{r.topic} partition {r.partition} offset {r.offset}: {error}") if error else None)

    # -- offsets ---------------------------------------------------------------
    def handled(self, *messages: Message) -> None:
        """Mark messages as handled: their offsets may now be committed."""
        for m in messages:
            self._mark(TopicPartition(self.settings.topic(m.topic), m.partition), m.offset)
            self._since_commit += 1
            if self._delivered is m:
                self._delivered = None
        if self._pending_duplicates:  # skipped by poll(): handled once what came before them is
            self._pending_duplicates = [
                d for d in self._pending_duplicates
                if self._handled.get(TopicPartition(self.settings.topic(d.topic), d.partition), -1) <= d.offset]

    def _mark(self, tp: TopicPartition, offset: int) -> None:
        if offset + 1 > self._handled.get(tp, -1):
            self._handled[tp] = offset + 1

    def _maybe_commit(self) -> None:
        if self._since_commit >= self.commit_every or (
                self._since_commit and time.monotonic() - self._last_commit >= self.commit_interval):
            self.commit()

    def commit(self) -> None:
        """Commit the offsets of everything handled so far (synchronously)."""
        owned = self._consumer.assignment()
        todo = {tp: n for tp, n in self._handled.items() if self._committed.get(tp) != n and tp in owned}
        self._since_commit, self._last_commit = 0, time.monotonic()
        if not todo:
            return
        try:
            self._consumer.commit({tp: OffsetAndMetadata(n, "", -1) for tp, n in todo.items()})
        except KafkaError as exc:
            raise BrokerError(f"committing offsets of group {self.group!r} failed: {exc}") from None
        self._committed.update(todo)

    def _revoked(self, revoked: set) -> None:
        """Partitions going to another member: commit what was handled there, drop the rest."""
        mine = {tp: n for tp, n in self._handled.items() if tp in revoked and self._committed.get(tp) != n}
        if mine:
            try:
                self._consumer.commit({tp: OffsetAndMetadata(n, "", -1) for tp, n in mine.items()})
                self._committed.update(mine)
            except KafkaError:
                pass  # the new owner reads them again: at-least-once
        self._buffer = [m for m in self._buffer if TopicPartition(self.settings.topic(m.topic), m.partition) not in revoked]
        for tp in revoked:
            self._handled.pop(tp, None)
            self._committed.pop(tp, None)

    def assigned(self) -> bool:
        """True once the group gave this reader partitions (joining takes a moment)."""
        return bool(self._consumer.assignment())

    def highwater(self, topic: str, partition: int) -> int | None:
        """The partition's end as of the last fetch (None before one)."""
        return self._consumer.highwater(TopicPartition(self.settings.topic(topic), partition))

    def close(self) -> None:
        """Commit what was handled and leave the group."""
        if self._closed:
            return
        self._closed = True
        try:
            self.commit()
        finally:
            self._consumer.close(autocommit=False)


def _dead_letter_key(record: Any) -> str | None:
    return getattr(record, "key", None)
