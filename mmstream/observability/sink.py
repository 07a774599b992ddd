"""Metrics of ``mmstream sink`` (the database writer): the same conventions as
the worker's (own registry, ``mmstream_sink_`` names, seconds), served on
their own port because a sink has no Faust web server::

    from mmstream.observability import SinkMetrics

    metrics = SinkMetrics(kind="sqlite")
    metrics.serve(9464)                                   # GET http://host:9464/metrics
    ...
    # after each database transaction committed (and its offsets with it):
    metrics.committed(topic, rows=len(batch), seconds=elapsed)
    # whenever the consumer knows where a partition stands:
    metrics.position(topic, partition, next_offset=pos, highwater=hw, newest_timestamp=ts)
    metrics.failed("db_error")                            # a transaction rolled back

``next_offset`` is the offset after the last record committed to the
database, ``highwater`` the partition's end as of the last fetch,
``newest_timestamp`` the Kafka timestamp (epoch seconds) of the last record
committed. The lag is computed when scraped, so a stuck sink shows a growing
``mmstream_sink_lag_seconds``.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from mmstream.observability.metrics import STAGE_BUCKETS, BoundedLabel


class SinkMetrics(Collector):
    def __init__(self, kind: str = "", registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.kind = kind
        self.rows = Counter("mmstream_sink_rows", "Records upserted into the database (committed)", ["topic"],
                            registry=r)
        self.transactions = Histogram("mmstream_sink_transaction_duration_seconds", "Time of one database "
                                      "transaction, write to commit", buckets=STAGE_BUCKETS, registry=r)
        self.failures = Counter("mmstream_sink_failures", "Database transactions that failed (rolled back, "
                                "retried), by reason", ["reason"], registry=r)
        self._reason = BoundedLabel()
        self._lock = threading.Lock()  # the sink may report from another thread than the one scraping
        self._partitions: dict[tuple[str, int], tuple[int | None, int | None, float | None]] = {}
        r.register(self)

    def committed(self, topic: str, rows: int, seconds: float | None = None) -> None:
        self.rows.labels(topic).inc(rows)
        if seconds is not None:
            self.transactions.observe(seconds)

    def failed(self, reason: str) -> None:
        self.failures.labels(self._reason(reason)).inc()

    def position(self, topic: str, partition: int, next_offset: int | None = None, highwater: int | None = None,
                 newest_timestamp: float | None = None) -> None:
        with self._lock:
            old = self._partitions.get((topic, partition), (None, None, None))
            self._partitions[(topic, partition)] = (
                old[0] if next_offset is None else next_offset,
                old[1] if highwater is None else highwater,
                old[2] if newest_timestamp is None else newest_timestamp)

    def forget(self, topic: str, partition: int) -> None:
        """The partition was revoked: its lag is another sink's now."""
        with self._lock:
            self._partitions.pop((topic, partition), None)

    def serve(self, port: int, host: str = "127.0.0.1") -> Any:
        """Serve ``GET /metrics`` in a daemon thread; returns prometheus_client's server."""
        return start_http_server(port, host, registry=self.registry)

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Any]:
        if self.kind:
            info = InfoMetricFamily("mmstream_sink", "The kind of database this sink writes to")
            info.add_metric([], {"kind": self.kind})
            yield info
        records = GaugeMetricFamily("mmstream_sink_lag_records", "Records of the partition not yet in the "
                                    "database (high watermark minus the committed position)",
                                    labels=["topic", "partition"])
        seconds = GaugeMetricFamily("mmstream_sink_lag_seconds", "While records wait: age of the newest record "
                                    "committed to the database from the partition; 0 when none wait",
                                    labels=["topic", "partition"])
        now = time.time()
        with self._lock:
            items = sorted(self._partitions.items())
        for (topic, partition), (position, hw, stamp) in items:
            if position is None or hw is None:
                continue
            lag = max(0, hw - position)
            labels = [topic, str(partition)]
            records.add_metric(labels, lag)
            if lag == 0:
                seconds.add_metric(labels, 0.0)
            elif stamp:
                seconds.add_metric(labels, max(0.0, now - stamp))
        yield records
        yield seconds
