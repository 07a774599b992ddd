"""The pure logic of mmstream/observability: lag arithmetic (a lag above 0, which
a drained real worker never shows), the lock-free batch histogram against
prometheus_client's own, bounded labels, readiness states, JSON log lines,
the sink's metrics. The real worker is scraped in tests/integration/test_observability.py."""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from types import SimpleNamespace as NS

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mmstream.errors import ConfigError
from mmstream.observability.collector import WorkerCollector
from mmstream.observability.logs import JsonFormatter, logging_config, partition_context
from mmstream.observability.metrics import EVENT_BUCKETS, OTHER, BatchHistogram, BoundedLabel, WorkerMetrics
from mmstream.observability.ready import Readiness
from mmstream.observability.sink import SinkMetrics


def samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict, float]]]:
    out: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


class FakeConsumer:
    def __init__(self, highwaters: dict, committed: dict) -> None:
        self.highwaters, self._committed_offset = highwaters, committed

    def assignment(self) -> set:
        return set(self.highwaters)

    def highwater(self, tp):
        return self.highwaters[tp]


class TP(tuple):
    topic = property(lambda self: self[0])
    partition = property(lambda self: self[1])


def event(partition: int, offset: int, timestamp: float) -> NS:
    return NS(message=NS(partition=partition, offset=offset, timestamp=timestamp))


def test_batch_histogram_equals_prometheus_histogram() -> None:
    rng = random.Random(7)
    values = [rng.expovariate(8.0) for _ in range(5000)] + list(EVENT_BUCKETS)  # values on the bounds too
    reference = Histogram("ref_seconds", "", buckets=EVENT_BUCKETS, registry=(registry := CollectorRegistry()))
    for v in values:
        reference.observe(v)
    ours = BatchHistogram("ours_seconds", "", EVENT_BUCKETS)
    for i in range(0, len(values), 32):  # batch by batch, as the worker does
        ours.observe_many(np.array(values[i:i + 32]))
    expected = {ls["le"]: v for ls, v in samples(registry)["ref_seconds_bucket"]}
    family = ours.family()
    got = {s.labels["le"]: s.value for s in family.samples if s.name == "ours_seconds_bucket"}
    assert {float(k): v for k, v in got.items()} == {float(k): v for k, v in expected.items()}
    total = {s.name: s.value for s in family.samples}
    assert total["ours_seconds_count"] == len(values)
    assert total["ours_seconds_sum"] == pytest.approx(sum(values))


def test_bounded_label_caps_values() -> None:
    label = BoundedLabel(limit=3)
    assert [label(v) for v in ("a", "b", "a", "c", "d", "e", "b")] == ["a", "b", "a", "c", OTHER, OTHER, "b"]
    brands = BoundedLabel(allowed={"acme"})
    assert (brands("acme"), brands("free text brand")) == ("acme", OTHER)


def test_worker_metrics_count_outcomes_and_skip_refused_ones() -> None:
    m = WorkerMetrics(brands=["acme"])
    now = time.time()
    events = [event(0, 10 + i, now - 0.2) for i in range(4)]
    result = NS(kind="result", record={"brands": ["acme", "unconfigured"], "sentiment": {"label": "negative"}})
    refused = NS(kind="result", record={"brands": ["acme"], "sentiment": {"label": "positive"}})
    dead = NS(kind="dead_letter", record={"reason": "not_json", "stage": "decode"})
    m.output_failed(refused)
    m.batch_delivered(events, [result, refused, dead, dead], 0.01)
    s = samples(m.registry)
    assert s["mmstream_posts_consumed_total"][0][1] == 4
    assert s["mmstream_results_total"][0][1] == 1  # the refused one became a dead letter
    dl = {(ls["reason"], ls["stage"]): v for ls, v in s["mmstream_dead_letters_total"]}
    assert dl == {("not_json", "decode"): 2, ("output_failed", "output"): 1}
    assert {ls["kind"]: v for ls, v in s["mmstream_output_failures_total"]} == {"result": 1, "dead_letter": 0}
    assert [(ls, v) for ls, v in s["mmstream_brand_results_total"]] == [({"brand": "acme", "sentiment": "negative"}, 1)]
    assert m.positions[0] == (14, now - 0.2)
    assert m.event_to_result.counts.sum() == 4


def collector(highwaters: dict, committed: dict, metrics: WorkerMetrics, analytics=None) -> WorkerCollector:
    app = NS(consumer=FakeConsumer(highwaters, committed), rebalancing=False, mmstream_analytics=analytics)
    readiness = Readiness(app, analytics, "t.posts")
    readiness.models_loaded = True
    return WorkerCollector(app, metrics, readiness, "t.posts", "w-1", "model@1")


def test_consumer_lag_per_partition_in_records_and_seconds() -> None:
    m = WorkerMetrics()
    now = time.time()
    m.batch_delivered([event(0, 6, now - 30.0)], [NS(kind="result", record={})], 0.001)  # p0: next offset 7
    p0, p1, p2, other = TP(("t.posts", 0)), TP(("t.posts", 1)), TP(("t.posts", 2)), TP(("t.mentions", 0))
    c = collector({p0: 10, p1: 5, p2: None, other: 99}, {p0: 3, p1: 5}, m)
    registry = CollectorRegistry()
    registry.register(c)
    s = samples(registry)
    records = {ls["partition"]: v for ls, v in s["mmstream_consumer_lag_records"]}
    assert records == {"0": 3, "1": 0}  # p0: 10 - max(7, 3); p1: committed 5 = highwater; p2: no fetch yet
    seconds = {ls["partition"]: v for ls, v in s["mmstream_consumer_lag_seconds"]}
    assert seconds["1"] == 0 and 29.0 < seconds["0"] < 60.0
    assert s["mmstream_assigned_partitions"] == [({"topic": "t.posts"}, 3)]


def test_readiness_waits_for_assignment_and_feed() -> None:
    feed = NS(caught_up=threading.Event(), records=0)
    analytics = NS(feed=feed)
    app = NS(consumer=FakeConsumer({}, {}), rebalancing=False, mmstream_analytics=analytics)
    ready = Readiness(app, None, "t.posts")
    assert ready.check()[0] is False  # models not loaded yet
    ready.models_loaded = True
    ok, checks = ready.check()
    assert not ok and not checks["assignment"]["ok"] and not checks["analytics_feed"]["ok"]
    app.consumer.highwaters = {TP(("t.posts", 1)): 0}
    assert ready.check()[0] is False  # the feed has not caught up
    feed.caught_up.set()
    ok, checks = ready.check()
    assert ok and checks["assignment"]["posts_partitions"] == [1]
    app.consumer.highwaters, app.rebalancing = {}, True  # partitions taken back for a rebalance: still ready
    assert ready.check()[0] is True
    app.rebalancing = False  # the rebalance ended with nothing for this worker (more workers than partitions)
    assert ready.check()[0] is False


def test_json_log_lines() -> None:
    formatter = JsonFormatter(worker="w-7")
    logger = logging.getLogger("mmstream.test")
    record = logger.makeRecord("mmstream.test", logging.WARNING, __file__, 1, "batch of %d: %s", (3, "ok"), None)
    line = json.loads(formatter.format(record))
    assert line["level"] == "warning" and line["logger"] == "mmstream.test" and line["worker"] == "w-7"
    assert line["message"] == "batch of 3: ok" and "partition" not in line
    with partition_context(2):
        assert json.loads(formatter.format(record))["partition"] == 2
    record.partition = 5  # extra={"partition": 5}
    assert json.loads(formatter.format(record))["partition"] == 5
    try:
        raise ValueError("multi\nline")
    except ValueError:
        import sys

        failed = logger.makeRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    out = formatter.format(failed)
    assert "\n" not in out and "ValueError" in json.loads(out)["exception"]
    assert logging_config("text") is None and logging_config("json")["root"]["level"] == "WARNING"
    with pytest.raises(ConfigError, match="MMSTREAM_LOG_FORMAT"):
        logging_config("yaml")


def test_sink_metrics_lag() -> None:
    sink = SinkMetrics(kind="sqlite")
    sink.committed("t.enriched", rows=40, seconds=0.02)
    sink.position("t.enriched", 0, next_offset=40, highwater=50, newest_timestamp=time.time() - 5)
    sink.position("t.enriched", 1, next_offset=12, highwater=12)
    sink.failed("OperationalError")
    s = samples(sink.registry)
    assert {ls["partition"]: v for ls, v in s["mmstream_sink_lag_records"]} == {"0": 10, "1": 0}
    seconds = {ls["partition"]: v for ls, v in s["mmstream_sink_lag_seconds"]}
    assert seconds["1"] == 0 and 4.0 < seconds["0"] < 30.0
    assert s["mmstream_sink_rows_total"] == [({"topic": "t.enriched"}, 40)]
    assert s["mmstream_sink_info"] == [({"kind": "sqlite"}, 1)]
    sink.forget("t.enriched", 0)
    assert {ls["partition"] for ls, _ in samples(sink.registry)["mmstream_sink_lag_records"]} == {"1"}


def test_a_scrape_survives_analytics_it_cannot_read() -> None:
    """The analytics change shape (another engine layout): /metrics still answers, /ready too."""
    m = WorkerMetrics()
    c = collector({TP(("t.posts", 0)): 4}, {TP(("t.posts", 0)): 4}, m, analytics=NS(engine=None))
    registry = CollectorRegistry()
    registry.register(c)
    s = samples(registry)
    assert s["mmstream_consumer_lag_records"] == [({"topic": "t.posts", "partition": "0"}, 0)]
    assert "mmstream_analytics_engine_here" not in s and s["mmstream_ready"] == [({}, 1)]
