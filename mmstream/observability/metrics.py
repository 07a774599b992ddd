"""The worker's metrics: one ``CollectorRegistry`` per worker (never the global
one), every name prefixed ``mmstream_``, durations in seconds.

Cost on the per-post path: the worker calls :meth:`WorkerMetrics.batch_delivered`
once per micro-batch, which loops over the batch's outcomes once (counting in
plain dicts) and then touches each prometheus child a few times; the
event-to-result histogram is filled with one numpy call per batch and takes no
lock (only the event loop writes it, and scrapes run on the event loop too).
Stage timings come from the prepare and model threads, one observation per
stage per batch.

Label values are bounded: reasons and stages as the pipeline writes them, at
most :data:`MAX_LABEL_VALUES` distinct ones per label (further ones count as
``other``), brands only when configured (``MMSTREAM_BRANDS_FILE``).
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import HistogramMetricFamily

#: per-stage durations of one micro-batch (decode, an extractor's call, the fused model ...)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: a post's time from its Kafka timestamp to its outcome confirmed by the broker
EVENT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
MAX_LABEL_VALUES = 64
OTHER = "other"


class BoundedLabel:
    """Label values as given, up to ``limit`` distinct ones (or only ``allowed``
    ones); anything beyond becomes ``other``: a plugin inventing reason codes
    cannot grow the series without bound."""

    def __init__(self, limit: int = MAX_LABEL_VALUES, allowed: Iterable[str] | None = None) -> None:
        self.limit = limit
        self.allowed = None if allowed is None else frozenset(allowed)
        self.seen: set[str] = set()

    def __call__(self, value: Any) -> str:
        value = "" if value is None else str(value)
        if value in self.seen:
            return value
        if (self.allowed is not None and value not in self.allowed) or len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(value)
        return value


class BatchHistogram:
    """A histogram filled a batch of values at a time (one ``searchsorted`` and
    one ``bincount``), written by one thread only, so without a lock."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name, self.documentation = name, documentation
        self.bounds = np.asarray(buckets, dtype=float)
        self.counts = np.zeros(len(self.bounds) + 1, dtype=np.int64)  # the last one: above every bound
        self.sum = 0.0

    def observe_many(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        # bucket i holds bounds[i-1] < v <= bounds[i]: Prometheus' "le"
        self.counts += np.bincount(np.searchsorted(self.bounds, values, side="left"), minlength=len(self.counts))
        self.sum += float(values.sum())

    def family(self) -> HistogramMetricFamily:
        cumulative = np.cumsum(self.counts)
        buckets = [(_le(b), int(c)) for b, c in zip(self.bounds, cumulative[:-1])] + [("+Inf", int(cumulative[-1]))]
        return HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=self.sum)


def _le(bound: float) -> str:
    return repr(float(bound))


class WorkerMetrics:
    """Counters and histograms a worker updates; gauges read at scrape time live
    in :mod:`mmstream.observability.collector`."""

    def __init__(self, brands: Iterable[str] = ()) -> None:
        disable_created_metrics()  # no *_created series: half the scrape, nothing an alert reads
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.consumed = Counter("mmstream_posts_consumed", "Records read from the posts topic and processed "
                                "(one outcome each)", registry=r)
        self.results = Counter("mmstream_results", "Results written to the enriched topic", registry=r)
        self.dead_letters = Counter("mmstream_dead_letters", "Dead letters written, by reason and stage",
                                    ["reason", "stage"], registry=r)
        self.output_failures = Counter("mmstream_output_failures", "Outcomes Kafka refused (each became a small "
                                       "dead letter with reason output_failed)", ["kind"], registry=r)
        for kind in ("result", "dead_letter"):
            self.output_failures.labels(kind)  # exported at 0 from the start: a rate() over it works at once
        self.batches = Histogram("mmstream_batch_size_posts", "Posts per micro-batch", buckets=BATCH_BUCKETS,
                                 registry=r)
        self.stages = Histogram("mmstream_stage_duration_seconds", "Time one micro-batch spent in a stage: decode "
                                "(JSON, validation, image decoding), extract:<plugin>, model (the fused model), "
                                "enrich:<name>, deliver (producing the outcomes until the broker confirmed them)",
                                ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.brand_posts = Counter("mmstream_brand_results", "Results per configured brand and sentiment label",
                                   ["brand", "sentiment"], registry=r)
        self.event_to_result = BatchHistogram(
            "mmstream_event_to_result_seconds",
            "Per post: from the record's Kafka timestamp to its outcome confirmed by the broker", EVENT_BUCKETS)
        self._reason, self._stage = BoundedLabel(), BoundedLabel()
        self._brand = BoundedLabel(allowed=brands)
        self._brands = frozenset(brands)
        self._stage_children: dict[str, Any] = {}
        self._children: dict[tuple, Any] = {}  # label values -> child: no labels() call per batch
        self._refused: set[int] = set()  # outcomes of the batch being delivered that Kafka refused
        #: posts partition -> (next offset after the last delivered record, that record's timestamp)
        self.positions: dict[int, tuple[int, float | None]] = {}

    # -- called from the pipeline's threads, once per stage and batch ----------
    def observe_stage(self, stage: str, seconds: float) -> None:
        child = self._stage_children.get(stage)
        if child is None:
            child = self._stage_children[stage] = self.stages.labels(self._stage(stage))
        child.observe(seconds)

    # -- called on the event loop, once per batch ------------------------------
    def output_failed(self, outcome: Any) -> None:
        """``outcome`` was refused by Kafka; a dead letter ``output_failed`` replaces it."""
        self._refused.add(id(outcome))
        self.output_failures.labels(outcome.kind).inc()
        self.dead_letters.labels("output_failed", "output").inc()

    def batch_delivered(self, events: Sequence[Any], outcomes: Sequence[Any], deliver_seconds: float) -> None:
        """Every outcome of ``events`` is on the broker: count them, observe the batch."""
        now = time.time()
        n = len(events)
        self.consumed.inc(n)
        self.batches.observe(n)
        self.observe_stage("deliver", deliver_seconds)
        results = 0
        dead: dict[tuple[str, str], int] = {}
        brands: dict[tuple[str, str], int] = {}
        refused = self._refused
        for outcome in outcomes:
            if refused and id(outcome) in refused:
                continue
            record = outcome.record
            if outcome.kind == "result":
                results += 1
                if self._brands:
                    for brand in record.get("brands") or ():
                        if brand in self._brands:
                            key = (("brand", brand), (record.get("sentiment") or {}).get("label", "none"))
                            brands[key] = brands.get(key, 0) + 1
            else:
                key = (record.get("reason"), record.get("stage"))
                dead[key] = dead.get(key, 0) + 1
        refused.clear()
        if results:
            self.results.inc(results)
        children = self._children
        for key, count in dead.items():
            child = children.get(key)
            if child is None:
                child = children[key] = self.dead_letters.labels(self._reason(key[0]), self._stage(key[1]))
            child.inc(count)
        for key, count in brands.items():
            child = children.get(key)
            if child is None:  # brand, then one of the model's three labels
                child = children[key] = self.brand_posts.labels(self._brand(key[0][1]), key[1])
            child.inc(count)
        stamps = []
        positions = self.positions
        for event in events:
            message = event.message
            stamps.append(message.timestamp or now)  # no timestamp (a very old client): counted as 0 s
            positions[message.partition] = (message.offset + 1, message.timestamp)
        self.event_to_result.observe_many(now - np.array(stamps, dtype=float))
