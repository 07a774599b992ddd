"""Window definitions and the pure aggregation math, apart from their execution
(which lives in :mod:`mmstream.analytics.engine.aggregator`).

Times are integer milliseconds since the epoch (event time: a post's
``created_at``). A window is ``[start, start + size)``; windows of one spec
start at multiples of ``step`` (``step == size``: tumbling; ``step < size``:
hopping, every point in ``size / step`` windows). A window is *closed* once the
watermark (the largest event time seen) reaches ``end + grace``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

from mmstream.analytics.engine.events import Mention, TopicRef
from mmstream.errors import ConfigError
from mmstream.inference.fused import SENTIMENT_LABELS
from mmstream.settings import Settings
from mmstream.timefmt import ms_iso

#: example post ids kept per brand or topic and window (for alert evidence)
EXAMPLES = 5


@dataclass(frozen=True)
class WindowSpec:
    name: str
    size_ms: int
    step_ms: int
    grace_ms: int

    def __post_init__(self) -> None:
        if self.size_ms <= 0 or self.step_ms <= 0 or self.grace_ms < 0:
            raise ConfigError(f"window {self.name!r}: size and step must be positive, grace not negative")
        if self.size_ms % self.step_ms:
            raise ConfigError(f"window {self.name!r}: the size ({self.size_ms} ms) must be a multiple of the "
                              f"step ({self.step_ms} ms); fix MMSTREAM_WINDOW_HOPPING / MMSTREAM_WINDOW_HOP")

    @classmethod
    def tumbling(cls, size: float, grace: float, name: str = "tumbling") -> "WindowSpec":
        return cls(name, _ms(size), _ms(size), _ms(grace))

    @classmethod
    def hopping(cls, size: float, step: float, grace: float, name: str = "hopping") -> "WindowSpec":
        return cls(name, _ms(size), _ms(step), _ms(grace))

    def starts(self, t_ms: int) -> list[int]:
        """Starts of the windows that contain ``t_ms``, oldest first."""
        last = t_ms - t_ms % self.step_ms
        first = last - self.size_ms + self.step_ms
        return list(range(first, last + 1, self.step_ms))

    def end(self, start: int) -> int:
        return start + self.size_ms

    def closes_at(self, start: int) -> int:
        """The watermark at which the window starting at ``start`` closes."""
        return start + self.size_ms + self.grace_ms

    def describe(self, start: int) -> dict:
        return {"name": self.name, "size": self.size_ms / 1000, "step": self.step_ms / 1000,
                "start": ms_iso(start), "end": ms_iso(self.end(start))}


def window_specs(settings: Settings) -> list[WindowSpec]:
    """The two window definitions of the settings: tumbling first (alerts use it)."""
    return [WindowSpec.tumbling(settings.window_tumbling, settings.window_grace),
            WindowSpec.hopping(settings.window_hopping, settings.window_hop, settings.window_grace)]


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))



@dataclass
class BrandAgg:
    """One brand's figures in one window."""

    posts: int = 0
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENTIMENT_LABELS, 0))
    score_sum: float = 0.0
    topics: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    negative_examples: list[str] = field(default_factory=list)
    complaints: int = 0  # posts the complaint head calls complaints
    complaint_known: int = 0  # posts with a complaint label at all (a model with that head, a post with text)
    complaint_examples: list[str] = field(default_factory=list)
    duplicates: int = 0  # posts with a duplicate_of (retweets, copies)
    campaign_posts: int = 0  # posts in a coordinated campaign
    excluded: int = 0  # of those, left out of posts and every figure below (MMSTREAM_CAMPAIGN_EXCLUDE)

    def add(self, m: Mention) -> None:
        self.duplicates += m.duplicate_of is not None
        self.campaign_posts += m.campaign is not None
        if m.excluded:
            self.excluded += 1
            return
        self.posts += 1
        if m.label is not None:  # a post without sentiment counts as a mention, not as an opinion
            self.labels[m.label] = self.labels.get(m.label, 0) + 1
            self.score_sum += m.score or 0.0
        if m.complaint is not None:
            self.complaint_known += 1
            self.complaints += m.complaint
            if m.complaint:
                _keep(self.complaint_examples, m.id)
        for ref in m.topics:  # (Counter.update's generality costs more than the counting here)
            self.topics[ref.id] += 1
        _keep(self.negative_examples if m.label == "negative" else self.examples, m.id)

    def absorb(self, other: "BrandAgg") -> None:
        self.posts += other.posts
        for label, n in other.labels.items():
            self.labels[label] = self.labels.get(label, 0) + n
        self.score_sum += other.score_sum
        self.complaints += other.complaints
        self.complaint_known += other.complaint_known
        self.duplicates += other.duplicates
        self.campaign_posts += other.campaign_posts
        self.excluded += other.excluded
        _keep_all(self.complaint_examples, other.complaint_examples)
        self.topics.update(other.topics)
        _keep_all(self.examples, other.examples)
        _keep_all(self.negative_examples, other.negative_examples)

    @property
    def mean_score(self) -> float:
        """The mean sentiment score of the posts that have one."""
        scored = sum(self.labels.values())
        return self.score_sum / scored if scored else 0.0

    @property
    def complaint_share(self) -> float | None:
        return round(self.complaints / self.complaint_known, 9) if self.complaint_known else None


@dataclass
class TopicAgg:
    """One topic's figures in one window (every post, with or without brands)."""

    posts: int = 0
    brands: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, m: Mention) -> None:
        self.posts += 1
        for brand in m.all_brands:
            self.brands[brand] += 1
        _keep(self.examples, m.id)

    def absorb(self, other: "TopicAgg") -> None:
        self.posts += other.posts
        self.brands.update(other.brands)
        _keep_all(self.examples, other.examples)


@dataclass
class WindowState:
    """Everything one window knows: per-brand and per-topic aggregates."""

    brands: dict[str, BrandAgg] = field(default_factory=dict)
    topics: dict[str, TopicAgg] = field(default_factory=dict)
    refs: dict[str, TopicRef] = field(default_factory=dict)

    def add(self, m: Mention) -> None:
        for brand in m.brands:
            self.brands.setdefault(brand, BrandAgg()).add(m)
        for ref in m.topics:
            self.refs.setdefault(ref.id, ref)
            if m.mine:  # topic windows count each post once: its mining copy
                self.topics.setdefault(ref.id, TopicAgg()).add(m)

    @classmethod
    def merged(cls, parts: Iterable["WindowState"]) -> "WindowState":
        """One state holding every part's posts (parts in time order: examples keep it)."""
        out = cls()
        for part in parts:
            for brand, agg in part.brands.items():
                out.brands.setdefault(brand, BrandAgg()).absorb(agg)
            for tid, topic in part.topics.items():
                out.topics.setdefault(tid, TopicAgg()).absorb(topic)
            for tid, ref in part.refs.items():
                out.refs.setdefault(tid, ref)
        return out

    @property
    def mentions(self) -> int:
        """All brand mentions in the window (a post naming two brands counts twice)."""
        return sum(b.posts for b in self.brands.values())

    def brand_record(self, brand: str, spec: WindowSpec, start: int, top_n: int,
                     label_of: Callable[[str], str | None] = lambda _: None, closed: bool = True) -> dict:
        agg = self.brands[brand]
        total = self.mentions
        return {
            "brand": brand,
            "window": spec.describe(start),
            "closed": closed,
            "posts": agg.posts,
            "labels": dict(agg.labels),
            "mean_score": round(agg.mean_score, 9),
            "share_of_voice": round(agg.posts / total, 9) if total else 0.0,
            "mentions_in_window": total,
            "complaints": agg.complaints,
            "complaint_share": agg.complaint_share,
            "top_topics": self.top_topics(agg.topics, top_n, label_of),
            "duplicates": agg.duplicates,
            "campaign_posts": agg.campaign_posts,
            "excluded": agg.excluded,
        }

    def top_topics(self, counts: Counter, top_n: int, label_of: Callable[[str], str | None]) -> list[dict]:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
        return [{"id": tid, "label": label_of(tid) or self.refs[tid].label, "kind": self.refs[tid].kind, "posts": n}
                for tid, n in ranked]


def _keep(examples: list[str], post_id: str) -> None:
    if len(examples) < EXAMPLES:
        examples.append(post_id)


def _keep_all(examples: list[str], more: list[str]) -> None:
    examples.extend(more[: EXAMPLES - len(examples)])


def recompute(posts: Iterable[dict], brand: str) -> dict:
    """Window figures for ``brand`` straight from ``<prefix>enriched`` results
    (the reference the tests compare the streaming tables with)."""
    posts = list(posts)
    mine = [p for p in posts if brand in p.get("brands", [])]
    labels = dict.fromkeys(SENTIMENT_LABELS, 0)
    scored = [p for p in mine if p.get("sentiment")]
    for p in scored:
        labels[p["sentiment"]["label"]] += 1
    total = sum(len(p.get("brands", [])) for p in posts)
    known = [c for p in mine if (c := complaint_of(p)) is not None]
    return {"posts": len(mine), "labels": labels,
            "mean_score": sum(p["sentiment"]["score"] for p in scored) / len(scored) if scored else 0.0,
            "share_of_voice": len(mine) / total if total else 0.0,
            "complaints": sum(known), "complaint_share": sum(known) / len(known) if known else None}


def complaint_of(result: dict) -> bool | None:
    """A result's complaint label: ``complaint`` is ``{"label": bool, "prob": p}``, a bare bool, or absent/null."""
    value = result.get("complaint")
    if isinstance(value, dict):
        value = value.get("label")
    return value if isinstance(value, bool) else None
