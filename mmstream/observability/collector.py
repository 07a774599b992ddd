"""Gauges read at scrape time (nothing on the per-post path): consumer lag per
partition, the analytics engine's lag and replay, the feed, readiness.

Consumer lag, in the ``kafka_consumergroup_lag`` sense, per assigned partition
of the posts topic: the partition's high watermark (from the consumer's latest
fetch response) minus the worker's position, the later of the offset after
the last record it delivered and the group's committed offset. In seconds:
while records wait, the age of the newest record the worker delivered from the
partition (an upper bound of the oldest waiting record's age, and what grows
while a worker is stuck); 0 when none wait. A partition the worker has
delivered nothing from yet and whose committed offset is unknown has no
sample.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from mmstream.observability.ready import Readiness
    from mmstream.observability.metrics import WorkerMetrics

log = logging.getLogger(__name__)


def highwater(consumer: Any, tp: Any) -> int | None:
    """The partition's high watermark as of the consumer's last fetch (None before one)."""
    try:
        value = consumer.highwater(tp)
    except Exception:  # noqa: BLE001 - not assigned (any more), consumer not started
        return None
    return value if isinstance(value, int) and value >= 0 else None


def committed(consumer: Any, tp: Any) -> int | None:
    """The next offset the group has committed for ``tp``, as Faust tracks it."""
    value = (getattr(consumer, "_committed_offset", None) or {}).get(tp)
    return value if isinstance(value, int) else None


def assignment(app: Any) -> set:
    try:
        return set(app.consumer.assignment())
    except Exception:  # noqa: BLE001 - no consumer yet
        return set()


class WorkerCollector(Collector):
    def __init__(self, app: Any, metrics: "WorkerMetrics", readiness: "Readiness",
                 posts_topic: str, worker_id: str, model: str) -> None:
        self.app, self.metrics, self.readiness = app, metrics, readiness
        self.posts_topic, self.worker_id, self.model = posts_topic, worker_id, model
        self._warned = False

    def describe(self) -> list:
        return []  # gauges come and go with the assignment: nothing to declare up front

    def collect(self) -> Iterator[Any]:
        yield self.metrics.event_to_result.family()
        info = InfoMetricFamily("mmstream_worker", "This worker: its id and the fused model it serves")
        info.add_metric([], {"worker": self.worker_id, "model": self.model})
        yield info
        ready = GaugeMetricFamily("mmstream_ready", "1 when GET /ready answers 200")
        ready.add_metric([], 1.0 if self.readiness.check()[0] else 0.0)
        yield ready
        yield from self._lag()
        try:
            families = list(self._analytics())
        except Exception as exc:  # noqa: BLE001 - a scrape never fails for the analytics' sake
            if not self._warned:
                self._warned = True
                log.warning("metrics: the analytics gauges could not be read (%r); the other metrics go on", exc)
            families = []
        yield from families

    def _lag(self) -> Iterator[Any]:
        consumer = getattr(self.app, "consumer", None)
        tps = sorted((tp for tp in assignment(self.app) if tp.topic == self.posts_topic), key=lambda tp: tp.partition)
        assigned = GaugeMetricFamily("mmstream_assigned_partitions", "Partitions of the posts topic assigned to "
                                     "this worker", labels=["topic"])
        assigned.add_metric([self.posts_topic], len(tps))
        yield assigned
        records = GaugeMetricFamily("mmstream_consumer_lag_records", "Records of the partition not yet processed "
                                    "by this worker (high watermark minus position)", labels=["topic", "partition"])
        seconds = GaugeMetricFamily("mmstream_consumer_lag_seconds", "While records wait: age of the newest record "
                                    "this worker delivered from the partition; 0 when none wait",
                                    labels=["topic", "partition"])
        now = time.time()
        for tp in tps:
            hw = highwater(consumer, tp)
            delivered, stamp = self.metrics.positions.get(tp.partition, (None, None))
            known = [p for p in (delivered, committed(consumer, tp)) if p is not None]
            if hw is None or not known:
                continue
            lag = max(0, hw - max(known))
            labels = [tp.topic, str(tp.partition)]
            records.add_metric(labels, lag)
            if lag == 0:
                seconds.add_metric(labels, 0.0)
            elif stamp:
                seconds.add_metric(labels, max(0.0, now - stamp))
        yield records
        yield seconds

    def _analytics(self) -> Iterator[Any]:
        a = self.readiness.analytics
        if a is None:
            return
        here = a.owns_engine()
        yield _gauge("mmstream_analytics_engine_here", "1 on a worker that runs an analytics engine (it holds "
                     "one or more of the mentions partitions)", 1.0 if here else 0.0)
        next_offset = a.engine.next_offset
        yield _gauge("mmstream_analytics_engine_next_offset", "The next mention offset the engine expects", next_offset)
        if here:  # summed over the engine partitions held here (mmstream.analytics.pipeline.partitions)
            lags = []
            for tp in (tp for tp in assignment(self.app) if tp.topic == a.mentions_topic):
                hw = highwater(getattr(self.app, "consumer", None), tp)
                held = getattr(a.engine, "held", {}).get(tp.partition)
                if hw is not None:
                    lags.append(max(0, hw - (held.engine.next_offset if held is not None else 0)))
            if lags:
                yield _gauge("mmstream_analytics_engine_lag_records", "Mentions written but not yet processed by "
                             "the engines", sum(lags))
        span = getattr(a, "replay_span", None)  # (start, end) while the engine rebuilds its state, else None
        position = getattr(a, "replay_position", None)
        remaining = 0 if span is None else max(0, span[1] - (position if position is not None else span[0]))
        yield _gauge("mmstream_analytics_replaying", "1 while the engine rebuilds its state from the mentions log",
                     0.0 if span is None else 1.0)
        yield _gauge("mmstream_analytics_replay_remaining_mentions", "Mention offsets left to replay before the "
                     "engine is current (0 when not replaying)", remaining)
        replays = CounterMetricFamily("mmstream_analytics_replays", "Engine rebuilds finished on this worker")
        replays.add_metric([], len(a.replays))
        yield replays
        if a.replays:
            yield _gauge("mmstream_analytics_last_replay_seconds", "Duration of the last engine rebuild",
                         a.replays[-1].get("seconds", 0.0))
        yield _gauge("mmstream_analytics_feed_caught_up", "1 once the feed read the analytics outputs written "
                     "before this worker started", 1.0 if a.feed.caught_up.is_set() else 0.0)
        feed = CounterMetricFamily("mmstream_analytics_feed_records", "Analytics output records the feed applied")
        feed.add_metric([], a.feed.records)
        yield feed
        failed = CounterMetricFamily("mmstream_analytics_mentions_failed", "Mention batches that could not be "
                                     "published (the analytics miss those posts)")
        failed.add_metric([], a.publisher.failed)
        yield failed


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
