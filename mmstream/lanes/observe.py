"""Per-lane metrics (``GET /metrics``) and readiness (``GET /ready``) of a worker's role.

* ``mmstream_lane_lag_records{lane}``: records of the lane's input topic not yet processed by this worker
  (high watermark minus the committed or delivered position, summed over its partitions);
* ``mmstream_lane_queue_depth{lane}``: posts taken from Kafka and not yet delivered (bounded: two
  micro-batches plus the one being gathered in the text lane, ``MMSTREAM_MEDIA_CONCURRENCY`` in the media
  lane; the backlog stays in Kafka);
* ``mmstream_lane_processing_seconds{lane}``: a text micro-batch's or a media post's time from taken to
  delivered; ``mmstream_lane_result_lag_seconds{lane}``: per post, its input record's timestamp to its
  outcome delivered (for a media post: from the post's arrival on the posts topic);
* ``mmstream_lane_media_seconds_total``: seconds of audio and video the media lane read.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PROCESSING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class LaneStats:
    """What a worker's lanes report; ``register`` adds them to the worker's registry."""

    def __init__(self, registry: Any, role: str, lanes: Any = ("text", "media")) -> None:
        self.role = role
        self.processing = Histogram("mmstream_lane_processing_seconds", "Per lane: a text micro-batch's, or a media "
                                    "post's, time from taken to delivered", ["lane"], buckets=PROCESSING_BUCKETS,
                                    registry=registry)
        self.result_lag = Histogram("mmstream_lane_result_lag_seconds", "Per lane, per post: from its record's "
                                    "arrival on the posts topic to its outcome delivered", ["lane"],
                                    buckets=LAG_BUCKETS, registry=registry)
        self.media_seconds = Counter("mmstream_lane_media_seconds", "Seconds of audio and video the media lane "
                                     "read", registry=registry)
        self.routed = Counter("mmstream_lane_routed", "Posts the text lane routed to the media topic",
                              registry=registry)
        for lane in lanes:  # exported from the start (at 0): a rate() or a panel works at once
            self.processing.labels(lane)
            self.result_lag.labels(lane)
        #: the post keys the media lane reads (mmstream.plugin.extractors.media_modalities), set when it is installed
        self.media_keys: frozenset[str] = frozenset()
        self.queued: dict[str, Callable[[], int]] = {}  # lane -> posts taken and not yet delivered
        self.lag: dict[str, Callable[[], int | None]] = {}  # lane -> records waiting in Kafka
        registry.register(_Gauges(self))

    def media_done(self, record: Any, outcomes: list[Any], seconds: float) -> None:
        self.processing.labels("media").observe(seconds)
        stamp = record.timestamp / 1000 if getattr(record, "timestamp", None) else None
        if stamp:
            self.result_lag.labels("media").observe(max(0.0, time.time() - stamp))
        raw = getattr(record, "value", None) or b""
        posted = [k for k in self.media_keys if isinstance(raw, (bytes, bytearray)) and json.dumps(k).encode() in raw]
        self.media_seconds.inc(sum(media_seconds(o.record, posted) for o in outcomes if o.kind == "result"))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def media_seconds(record: dict, keys: Any) -> float:
    """Seconds of media a result's reports say were read, for the post's own media keys ``keys`` (a value
    a plugin derived from them, such as a video's sound track, is the same seconds and is not counted
    again): a report's ``duration``, or the sum of its ``clips``' durations."""
    total = 0.0
    for key in keys:
        report = (record.get("modalities") or {}).get(key) or {}
        if "duration" in report:
            total += _number(report["duration"])
        else:
            total += sum(_number(clip.get("duration")) for clip in report.get("clips") or () if isinstance(clip, dict))
    return total


class _Gauges(Collector):
    def __init__(self, stats: LaneStats) -> None:
        self.stats = stats

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("mmstream_lane_queue_depth", "Per lane: posts taken from Kafka and not yet "
                                  "delivered (bounded; the backlog stays in Kafka)", labels=["lane"])
        for lane, read in self.stats.queued.items():
            depth.add_metric([lane], float(read()))
        yield depth
        lag = GaugeMetricFamily("mmstream_lane_lag_records", "Per lane: records of its input topic waiting for "
                                "this worker (high watermark minus position, over its partitions)", labels=["lane"])
        for lane, read in self.stats.lag.items():
            value = read()
            if value is not None:
                lag.add_metric([lane], float(value))
        yield lag


def text_lag(app: Any, metrics: Any, topic: str) -> int | None:
    """Records of the posts topic waiting for this worker's text lane (None before a fetch): as
    ``mmstream_consumer_lag_records``, summed over the worker's partitions."""
    from mmstream.observability.collector import assignment, committed, highwater

    consumer, total, known = getattr(app, "consumer", None), 0, False
    for tp in assignment(app):
        if tp.topic != topic:
            continue
        high = highwater(consumer, tp)
        delivered = metrics.positions.get(tp.partition, (None, None))[0]
        positions = [p for p in (delivered, committed(consumer, tp)) if p is not None]
        if high is None or not positions:
            continue
        total, known = total + max(0, high - max(positions)), True
    return total if known else None


def media_lag(lane: Any) -> int | None:
    """Records of the media topic waiting for this worker's media lane (None before a fetch)."""
    consumer, total, known = lane.consumer, 0, False
    if consumer is None:
        return None
    for tp in list(consumer.assignment()):
        try:
            high = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - revoked meanwhile
            continue
        position = lane.positions.get(tp)
        if high is None or position is None:
            continue
        total, known = total + max(0, high - position), True
    return total if known else None


def media_assignment_check(lane: Any, was_ready: list[bool]) -> Callable[[], dict[str, Any]]:
    """``/ready``'s assignment check for a media-role worker: its media consumer holds partitions."""
    def check() -> dict[str, Any]:
        consumer = lane.consumer
        try:
            tps = sorted(tp.partition for tp in consumer.assignment()) if consumer is not None else []
        except Exception:  # noqa: BLE001 - not started yet
            tps = []
        ok = bool(tps) or was_ready[0]
        was_ready[0] = was_ready[0] or ok
        return {"ok": ok, "media_partitions": tps,
                "detail": "joined, media partitions assigned" if tps else "rebalancing" if ok else
                "waiting for the media group to assign partitions of the media topic (more media workers than "
                "its partitions leave some idle)"}
    return check
