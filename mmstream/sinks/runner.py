"""The sink loop: read batches in the sink's consumer group, write each in one
database transaction, then commit its offsets. A kill at any point loses
nothing (uncommitted offsets are read again) and duplicates nothing (the rows
are upserts by record key)."""
from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

from mmstream.client.reader import Reader
from mmstream.errors import BrokerError, ConfigError
from mmstream.kafka.catalogue import SINK_DEFAULT
from mmstream.progress import line_end
from mmstream.settings import Settings
from mmstream.sinks import open_store
from mmstream.sinks.base import SinkError

#: what the sink stores when ``--topics`` is not given: the results and the analytics' keyed outputs
DEFAULT_TOPICS = SINK_DEFAULT


@dataclass
class SinkStats:
    batches: int = 0
    records: int = 0
    rejected: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


def run_sink(settings: Settings, dsn: str, topics: Sequence[str] = DEFAULT_TOPICS, group: str | None = None, *,
             batch_size: int = 500, table_prefix: str = "mmstream_", idle_exit: float | None = None,
             progress: bool = True, metrics_port: int | None = None) -> SinkStats:
    """Run until SIGTERM/SIGINT (or ``idle_exit`` seconds without records); the counts.
    ``metrics_port``: serve Prometheus metrics (:class:`mmstream.observability.SinkMetrics`)."""
    from mmstream.sinks.tables import TOPIC_TABLES

    unknown = [t for t in topics if t not in TOPIC_TABLES]
    if not topics or unknown:
        raise ConfigError(f"cannot store {unknown or 'no topics'}: --topics takes {', '.join(TOPIC_TABLES)}")
    group = group or f"{settings.app_id}-sink"
    store = open_store(dsn, settings, table_prefix)
    if progress:
        print(f"sink ({group}): writing {', '.join(topics)} to {store.describe()}", file=sys.stderr, flush=True)
    metrics = None
    if metrics_port is not None:
        from mmstream.observability import SinkMetrics

        from mmstream.web.bind import check_exposure

        # the sink's /metrics server cannot check a token: beyond loopback only with MMSTREAM_WEB_INSECURE=1
        check_exposure(settings.web_host, "", settings.web_insecure)
        metrics = SinkMetrics(kind=dsn.split("://", 1)[0])
        metrics.serve(metrics_port, settings.web_host)
    stats = SinkStats()
    stopping = []
    previous = {s: signal.signal(s, lambda *_: stopping.append(True)) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        store.create_tables(list(topics))
        reader = Reader(list(topics), group, settings, errors="yield", dedupe=False, max_records=batch_size,
                        commit_every=10**9, commit_interval=10**9)
        last_report = idle_since = time.monotonic()
        try:
            while not stopping:
                batch = reader.poll(1.0)
                if not batch:
                    if not reader.assigned():  # joining the group is not idleness
                        idle_since = time.monotonic()
                    elif idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                        break
                    continue
                idle_since = time.monotonic()
                began = time.monotonic()
                try:
                    store.write(batch)  # one transaction: all of the batch or nothing
                except Exception as exc:  # noqa: BLE001 - say what happened and how to go on
                    if metrics is not None:
                        metrics.failed(type(exc).__name__)
                    raise SinkError(f"writing {len(batch)} records to {kind_name(dsn)} failed ({exc!r}); nothing of "
                                    "the batch was committed, nor its offsets: fix the database and start the sink "
                                    "again, it resumes with this batch") from exc
                reader.handled(*batch)
                try:
                    reader.commit()  # only now: the rows are in the database
                except BrokerError as exc:  # a rebalance moved the partitions: their new owner writes them again
                    print(f"{_fresh_line()}sink ({group}): offsets not committed ({exc}); the batch is in the database and "
                          "will be written again, unchanged", file=sys.stderr, flush=True)
                stats.batches += 1
                stats.records += len(batch)
                stats.rejected += sum(m.error is not None for m in batch)
                for m in batch:
                    stats.by_topic[m.topic] = stats.by_topic.get(m.topic, 0) + 1
                if metrics is not None:
                    _observe(metrics, reader, batch, time.monotonic() - began)
                if progress and time.monotonic() - last_report >= 2.0:
                    last_report = time.monotonic()
                    _report(stats, group, end=line_end())  # overwritten on a terminal, a new line in a log
        finally:
            reader.close()
    finally:
        store.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if progress:
        _report(stats, group)
    return stats


def _observe(metrics: "object", reader: Reader, batch: list, seconds: float) -> None:
    counts: dict[str, int] = {}
    last: dict[tuple[str, int], object] = {}
    for m in batch:
        counts[m.topic] = counts.get(m.topic, 0) + 1
        last[(m.topic, m.partition)] = m
    for i, (topic, n) in enumerate(counts.items()):
        metrics.committed(topic, rows=n, seconds=seconds if i == 0 else None)
    for (topic, partition), m in last.items():
        metrics.position(topic, partition, next_offset=m.offset + 1, highwater=reader.highwater(topic, partition),
                         newest_timestamp=m.timestamp / 1000 if m.timestamp and m.timestamp > 0 else None)


def kind_name(dsn: str) -> str:
    """The DSN without its password, for messages."""
    from mmstream.sinks.postgres import _safe

    return _safe(dsn)


def _fresh_line() -> str:
    """What starts a message after a progress line: a newline on a terminal (the line ended in ``\\r``)."""
    return "\n" if line_end() == "\r" else ""


def _report(stats: SinkStats, group: str, end: str = "\n") -> None:
    topics = ", ".join(f"{t} {n}" for t, n in sorted(stats.by_topic.items())) or "nothing yet"
    rejected = f"; {stats.rejected} rejected (see the rejects table)" if stats.rejected else ""
    print(f"sink ({group}): {stats.records} records in {stats.batches} transactions: {topics}{rejected}",
          file=sys.stderr, end=end, flush=True)
