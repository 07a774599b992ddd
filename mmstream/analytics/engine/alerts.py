"""Spike alerts per brand and per topic, against a trailing baseline.

The detector is fed the closed tumbling windows (its buckets), in event-time
order. Each time one closes at ``T`` it compares, for every brand and topic
with posts in the recent span, the *recent* span ``[T - recent, T)`` with the
*baseline* span before it ``[T - recent - baseline, T - recent)``:

* **volume**: ``R >= min_posts``, ``R >= ratio * E`` and a z-score of ``z`` or
  more, where ``R`` is the recent post count and ``E`` the count the baseline
  rate predicts for the recent span;
* **negative share** (brands): the recent share of negative posts exceeds the
  baseline share by ``negative_delta`` or more, with a z-score of ``z`` or more,
  and both spans hold ``min_posts`` or more posts;
* **complaint share** (brands, when results carry the complaint head's label): the
  same test on the share of complaints among the posts with a complaint label,
  with ``complaint_delta``.

z-scores are exact: the standard normal quantile of the one-sided p-value of
``R`` under a Poisson law of mean ``E`` (volume), or of the negative count
under a binomial law with the baseline share (negative share). The normal
approximations are far too eager for the small counts of a brand's hour.

No alert until ``min_history`` of the baseline span has been seen. One alert
per episode: a condition that keeps holding does not alert again, nor does a
new episode within ``cooldown`` of the last alert of the same kind and subject.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mmstream.analytics.engine.aggregator import ClosedWindow
from mmstream.analytics.engine.events import TopicRef
from mmstream.settings import Settings
from mmstream.timefmt import ms_iso

EXAMPLES = 5
TOP = 5


@dataclass(frozen=True)
class AlertConfig:
    bucket_ms: int
    recent: int  # buckets
    baseline: int  # buckets
    min_posts: int = 20
    ratio: float = 3.0
    z: float = 4.0
    negative_delta: float = 0.25
    min_history: float = 0.25
    cooldown_ms: int = 3_600_000
    complaint_delta: float = 0.25

    @classmethod
    def from_settings(cls, s: Settings) -> "AlertConfig":
        bucket = int(round(s.window_tumbling * 1000))
        return cls(bucket, max(1, round(s.alert_recent * 1000 / bucket)), max(1, round(s.alert_baseline * 1000 / bucket)),
                   s.alert_min_posts, s.alert_ratio, s.alert_z, s.alert_negative_delta, s.alert_min_history,
                   int(round(s.alert_cooldown * 1000)), s.alert_complaint_delta)


@dataclass
class _Bucket:
    index: int
    posts: int
    examples: list[str]
    negative_examples: list[str]
    related: Counter  # topics of a brand's posts, or brands of a topic's posts
    complaint_examples: list[str] = field(default_factory=list)


@dataclass
class _Series:
    """One subject's counts per bucket in a ring covering recent + baseline."""

    slots: int
    counts: np.ndarray = field(init=False)
    negatives: np.ndarray = field(init=False)
    last: int | None = None
    recent: deque = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.slots, dtype=np.int64)
        self.negatives = np.zeros(self.slots, dtype=np.int64)
        self.complaints = np.zeros(self.slots, dtype=np.int64)
        self.known = np.zeros(self.slots, dtype=np.int64)  # posts with a complaint label

    def advance(self, index: int) -> None:
        """Zero the slots of the buckets after ``last`` up to ``index``."""
        if self.last is not None and index > self.last:
            for b in range(max(self.last + 1, index - self.slots + 1), index + 1):
                k = b % self.slots
                self.counts[k] = self.negatives[k] = self.complaints[k] = self.known[k] = 0
        if self.last is None or index > self.last:
            self.last = index

    def put(self, bucket: _Bucket, posts: int, negatives: int, keep: int, complaints: int = 0, known: int = 0) -> None:
        self.advance(bucket.index)
        self.counts[bucket.index % self.slots] += posts
        self.negatives[bucket.index % self.slots] += negatives
        self.complaints[bucket.index % self.slots] += complaints
        self.known[bucket.index % self.slots] += known
        self.recent.append(bucket)
        while self.recent and self.recent[0].index <= bucket.index - keep:
            self.recent.popleft()

    def total(self, first: int, last: int) -> tuple[int, int]:
        """Posts and negative posts in buckets ``first..last``."""
        return self._sums(self.counts, self.negatives, first, last)

    def complaint_total(self, first: int, last: int) -> tuple[int, int]:
        """Complaints and posts with a complaint label in buckets ``first..last``."""
        return self._sums(self.complaints, self.known, first, last)

    def _sums(self, a: np.ndarray, b: np.ndarray, first: int, last: int) -> tuple[int, int]:
        n = last - first + 1
        if n <= 0:
            return 0, 0
        start = first % self.slots
        return _ring_sum(a, start, n), _ring_sum(b, start, n)


class SpikeDetector:
    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.series: dict[tuple[str, str], _Series] = {}
        self.refs: dict[str, TopicRef] = {}
        self.first: int | None = None
        self.active: set[tuple[str, str, str]] = set()
        self.last_alert: dict[tuple[str, str, str], int] = {}

    def observe(self, window: ClosedWindow, label_of: Callable[[str], str | None]) -> list[dict]:
        """Account for one closed tumbling window; the alerts raised at its end."""
        cfg = self.config
        index = window.start // cfg.bucket_ms
        self.first = index if self.first is None else self.first
        slots = cfg.recent + cfg.baseline
        state = window.state
        self.refs.update(state.refs)
        for brand, agg in state.brands.items():
            bucket = _Bucket(index, agg.posts, agg.examples, agg.negative_examples, Counter(agg.topics),
                             agg.complaint_examples)
            self.series.setdefault(("brand", brand), _Series(slots)).put(
                bucket, agg.posts, agg.labels["negative"], cfg.recent, agg.complaints, agg.complaint_known)
        for tid, agg in state.topics.items():
            bucket = _Bucket(index, agg.posts, agg.examples, [], Counter(agg.brands))
            self.series.setdefault(("topic", tid), _Series(slots)).put(bucket, agg.posts, 0, cfg.recent)
        return self._evaluate(index, label_of)

    def _evaluate(self, last: int, label_of: Callable[[str], str | None]) -> list[dict]:
        cfg = self.config
        recent_first = last - cfg.recent + 1
        covered = min(cfg.baseline, recent_first - (self.first or 0))
        if covered < cfg.min_history * cfg.baseline or covered <= 0:
            return []
        alerts = []
        horizon = last - cfg.recent - cfg.baseline
        for key in [k for k, s in self.series.items() if s.last is not None and s.last < horizon]:
            del self.series[key]  # nothing left in its ring: a subject gone quiet (a retired topic ...)
        for (kind, subject), series in sorted(self.series.items()):
            fired = {"volume": False, "negative_share": False, "complaint_share": False}
            if series.last is not None and series.last >= recent_first:
                series.advance(last)
                r, rn = series.total(recent_first, last)
                b, bn = series.total(recent_first - covered, recent_first - 1)
                figures = self._figures(r, rn, b, bn, covered)
                fired["volume"] = self._volume(figures)
                fired["negative_share"] = kind == "brand" and self._negative(figures)
                if kind == "brand":
                    rc, rk = series.complaint_total(recent_first, last)
                    bc, bk = series.complaint_total(recent_first - covered, recent_first - 1)
                    figures.update(self._complaint_figures(rc, rk, bc, bk))
                    fired["complaint_share"] = self._complaint(figures)
            for alert_kind, now in fired.items():
                key = (alert_kind, kind, subject)
                if not now:
                    self.active.discard(key)
                    continue
                if key in self.active:
                    continue
                self.active.add(key)
                end_ms = (last + 1) * cfg.bucket_ms
                if end_ms - self.last_alert.get(key, -10**18) < cfg.cooldown_ms:
                    continue
                self.last_alert[key] = end_ms
                alerts.append(self._alert(alert_kind, kind, subject, series, figures, last, covered, label_of))
        return alerts

    def _figures(self, r: int, rn: int, b: int, bn: int, covered: int) -> dict:
        cfg = self.config
        expected = b * cfg.recent / covered
        pr, pb = (rn / r if r else 0.0), (bn / b if b else 0.0)
        figures = {"posts": r, "baseline_posts": b, "expected_posts": round(expected, 3),
                   "ratio": round(r / expected, 3) if expected else None, "z": 0.0,
                   "negative_posts": rn, "negative_share": round(pr, 4),
                   "baseline_negative_share": round(pb, 4), "negative_z": 0.0}
        if r >= cfg.min_posts and r >= cfg.ratio * expected:  # exact tails only for candidates
            figures["z"] = round(z_of(poisson_tail(r, max(expected, 0.1))), 3)
        if r >= cfg.min_posts and b >= cfg.min_posts and pr - pb >= cfg.negative_delta:
            figures["negative_z"] = round(z_of(binomial_tail(rn, r, max(pb, 0.5 / b))), 3)
        return figures

    def _complaint_figures(self, rc: int, rk: int, bc: int, bk: int) -> dict:
        cfg = self.config
        pr, pb = (rc / rk if rk else 0.0), (bc / bk if bk else 0.0)
        figures = {"complaints": rc, "complaint_share": round(pr, 4), "baseline_complaint_share": round(pb, 4),
                   "complaint_labelled": rk, "baseline_complaint_labelled": bk, "complaint_z": 0.0}
        if rk >= cfg.min_posts and bk >= cfg.min_posts and pr - pb >= cfg.complaint_delta:
            figures["complaint_z"] = round(z_of(binomial_tail(rc, rk, max(pb, 0.5 / bk))), 3)
        return figures

    def _complaint(self, f: dict) -> bool:
        cfg = self.config
        return (f["complaint_labelled"] >= cfg.min_posts and f["baseline_complaint_labelled"] >= cfg.min_posts
                and f["complaint_z"] >= cfg.z and f["complaint_share"] - f["baseline_complaint_share"] >= cfg.complaint_delta)

    def _volume(self, f: dict) -> bool:
        cfg = self.config
        return f["posts"] >= cfg.min_posts and f["posts"] >= cfg.ratio * f["expected_posts"] and f["z"] >= cfg.z

    def _negative(self, f: dict) -> bool:
        cfg = self.config
        return (f["posts"] >= cfg.min_posts and f["baseline_posts"] >= cfg.min_posts and f["negative_z"] >= cfg.z
                and f["negative_share"] - f["baseline_negative_share"] >= cfg.negative_delta)

    def _alert(self, alert_kind: str, kind: str, subject: str, series: _Series, figures: dict, last: int,
               covered: int, label_of: Callable[[str], str | None]) -> dict:
        cfg = self.config
        end = (last + 1) * cfg.bucket_ms
        start = end - cfg.recent * cfg.bucket_ms
        related: Counter = Counter()
        for bucket in series.recent:
            related.update(bucket.related)
        examples: list[str] = []
        # examples from the busiest buckets of the recent span: the core of the spike
        for bucket in sorted(series.recent, key=lambda b: (-b.posts, -b.index)):
            pool = bucket.negative_examples if alert_kind == "negative_share" else (
                bucket.complaint_examples if alert_kind == "complaint_share" else bucket.examples + bucket.negative_examples)
            examples += pool[: EXAMPLES - len(examples)]
        ranked = sorted(related.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        ref = self.refs.get(subject)
        alert = {
            "id": f"{alert_kind}:{kind}:{subject}:{ms_iso(end)}",
            "kind": alert_kind,
            "subject": {"type": kind, "id": subject,
                        "label": (label_of(subject) or (ref.label if ref else subject)) if kind == "topic" else subject},
            "window": {"start": ms_iso(start), "end": ms_iso(end)},
            "baseline": {"start": ms_iso(start - covered * cfg.bucket_ms), "end": ms_iso(start)},
            "figures": figures,
            "example_post_ids": examples,
            "sensitivity": {"min_posts": cfg.min_posts, "ratio": cfg.ratio, "z": cfg.z,
                            "negative_delta": cfg.negative_delta, "complaint_delta": cfg.complaint_delta},
        }
        if kind == "brand":
            alert["top_topics"] = [{"id": t, "label": label_of(t) or (self.refs[t].label if t in self.refs else t),
                                    "kind": self.refs[t].kind if t in self.refs else "mined", "posts": n} for t, n in ranked]
        else:
            alert["top_brands"] = [{"brand": b, "posts": n} for b, n in ranked]
        return alert


def _ring_sum(ring: np.ndarray, start: int, n: int) -> int:
    end = start + n
    if end <= len(ring):
        return int(ring[start:end].sum())
    return int(ring[start:].sum() + ring[: end - len(ring)].sum())


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def poisson_tail(k: int, mean: float) -> float:
    """log P(X >= k) for X ~ Poisson(mean)."""
    if k <= 0:
        return 0.0
    terms = [j * math.log(mean) - mean - math.lgamma(j + 1) for j in range(k, k + max(50, int(10 * math.sqrt(k + mean))))]
    return min(0.0, _logsumexp(terms))


def binomial_tail(k: int, n: int, p: float) -> float:
    """log P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 0.0
    p = min(max(p, 1e-12), 1 - 1e-12)
    terms = [math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * math.log(p)
             + (n - j) * math.log1p(-p) for j in range(k, n + 1)]
    return min(0.0, _logsumexp(terms))


def z_of(log_p: float) -> float:
    """The standard normal quantile of a one-sided p-value given as its log."""
    if log_p < -700:
        return math.sqrt(-2 * log_p)  # beyond float range: the tail's leading order
    p = math.exp(log_p)
    return -NormalDist().inv_cdf(p) if 0 < p < 1 else 0.0
