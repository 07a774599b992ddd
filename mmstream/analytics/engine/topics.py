"""Online topic mining over the posts' text embeddings.

One miner runs in one place (the engine of ``<prefix>mentions``' partition 0, which every post's
mining copy goes to: :mod:`mmstream.analytics.engine.routing`), so topic ids never conflict between
workers or engine partitions; workers
assign posts to topics with a read-only :class:`TopicSnapshot` rebuilt from the
miner's records on ``<prefix>topics``.

* Similarities are cosines of *mean-centred* embeddings: the running mean of
  the vectors seen (frozen after :data:`MEAN_OBSERVATIONS`) is subtracted
  first, which makes one threshold work across languages and encoders.
* A post joins the nearest active topic when the similarity reaches
  ``assign``; otherwise it waits in a buffer of outliers. A topic is born when
  an outlier has ``birth_min - 1`` buffered neighbours at ``birth`` or more; its
  id is ``m-`` + the first 10 hex digits of SHA-1 of the founding (oldest
  member) post's id: deterministic, so a replay of the same stream gives the
  same ids.
* Keywords are the topic's words ranked by c-TF-IDF, refreshed as it grows
  (:mod:`mmstream.analytics.engine.keywords`: never brand names, handles, URLs,
  markup, numbers or stop words). The label is the top three keywords, and
  it stays while those three remain among the top five: fewer label changes
  as a topic grows. A topic is published (its ``birth`` record, results
  naming it) only once it has a label; until then it exists only here.
* ``maintain`` (called whenever a tumbling window closes) merges topics whose
  centroids reach ``merge`` (the smaller into the larger) and retires topics
  not seen for ``max_idle`` of event time, or the least recent beyond ``max_topics``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter
from typing import Any
from dataclasses import dataclass, field

import numpy as np

from mmstream.analytics.engine.keywords import BrandTerms, brand_terms, ctfidf_keywords, terms
from mmstream.analytics.engine.topicspace import Rows, Space, centred, topic_record
from mmstream.settings import Settings

#: outliers kept while waiting for a topic to be born
BUFFER = 1000
#: a centroid is the running mean of at most this many recent posts (lets topics drift)
MEMORY = 500
KEYWORDS = 5
#: per-topic term counts are pruned to half this size when they exceed it
MAX_TERMS = 400


@dataclass(frozen=True)
class MinerConfig:
    """The miner's thresholds; their defaults live in :class:`Settings` (``topic_*``)."""

    assign: float
    birth: float
    birth_min: int
    merge: float
    max_idle_ms: int
    max_topics: int
    warmup: int
    #: brand ids, names and aliases that are never keywords (the brands file's, when there is one)
    brands: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, s: Settings) -> "MinerConfig":
        return cls(s.topic_assign, s.topic_birth, max(2, s.topic_birth_min), s.topic_merge,
                   int(s.topic_max_idle * 1000), s.topic_max, s.topic_warmup, brand_spellings(s.brands_file))

    @classmethod
    def defaults(cls, **changes: Any) -> "MinerConfig":
        """The settings' defaults, with ``changes``."""
        return dataclasses.replace(cls.from_settings(Settings()), **changes)


def brand_spellings(brands_file: str) -> tuple[str, ...]:
    """Every id, name and alias of the brands in ``brands_file`` (none without one)."""
    if not brands_file:
        return ()
    from mmstream.analytics.engine.brands import BrandCatalog

    return tuple(sorted({s for b in BrandCatalog.load(brands_file).brands for s in (b.id, b.name, *b.aliases)}))


@dataclass
class MinedTopic:
    id: str
    founder: str
    born_ms: int
    last_ms: int
    n: int
    centroid: np.ndarray  # running mean of the raw (uncentred) member vectors
    terms: Counter = field(default_factory=Counter)
    keywords: list[str] = field(default_factory=list)
    status: str = "active"  # active, merged or retired
    merged_into: str | None = None
    refresh_at: int = 0
    #: the keywords the label shows (kept while they stay among the top keywords)
    shown: list[str] = field(default_factory=list)
    #: whether its birth record went out (it had a label): only then do results and records name it
    published: bool = True

    @property
    def label(self) -> str | None:
        """Its top keywords joined by " · "; None before it has any (it is then not shown)."""
        return " · ".join(getattr(self, "shown", None) or self.keywords[:3]) or None


@dataclass
class Observation:
    topic: str | None  # the published topic the post belongs to, if any
    similarity: float | None
    records: list[dict]  # for <prefix>topics: births, updates, merges, retirements, the space


@dataclass
class _Outlier:
    post_id: str
    t_ms: int
    vec: np.ndarray
    terms: list[str]


def topic_id(founder: str) -> str:
    return "m-" + hashlib.sha1(founder.encode("utf-8")).hexdigest()[:10]


class OnlineTopicMiner:
    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig.defaults()
        self.topics: dict[str, MinedTopic] = {}
        self.space = Space()
        self.outliers: list[_Outlier] = []
        self._outlier_rows: Rows | None = None  # the outliers' vectors, in the same order
        self.all_terms: Counter = Counter()
        self._active: list[str] = []
        self._rows: Rows | None = None  # the active topics' centroids, in the order of _active
        self._row_of: dict[str, int] = {}
        self._published_space = -1

    @property
    def brand_terms(self) -> BrandTerms:
        """The configured brands' spellings, ready to take out of texts (built once per set of brands)."""
        return brand_terms(getattr(self.config, "brands", ()))

    # -- observing posts ------------------------------------------------------
    def observe(self, post_id: str, t_ms: int, vec: np.ndarray | None, text: str,
                assigned: str | None = None) -> Observation:
        """Account for one post; ``assigned`` is the topic a worker already gave it."""
        if vec is None:
            return Observation(self.resolve(assigned) if assigned else None, None, [])
        self.space.update(vec)
        words = terms(text, self.brand_terms)
        tid, sim = self.resolve(assigned) if assigned else None, None
        if tid is None or self.topics[tid].status != "active":
            tid, sim = self.nearest(vec)
            if sim is None or sim < self.config.assign:
                tid = None
        records: list[dict] = []
        if tid is not None:
            records += self._add(self.topics[tid], vec, words, t_ms)
        else:
            tid, sim, records = self._outlier(_Outlier(post_id, t_ms, vec, words))
        if records and self.space.n != self._published_space:
            self._published_space = self.space.n
            records.append(self.space.record())
        if tid is not None and not self.topics[tid].published:  # no label yet: the post is shown no topic
            tid, sim = None, None
        return Observation(tid, sim, records)

    def nearest(self, vec: np.ndarray) -> tuple[str | None, float | None]:
        if not self._active:
            return None, None
        if self._rows is None:
            self._rows = Rows(len(vec), len(self._active))
            for tid in self._active:
                self._rows.append(self.topics[tid].centroid)
        sims = self._rows.cosines(centred(vec, self.space.mean), self.space.mean)
        best = int(np.argmax(sims))
        return self._active[best], float(sims[best])

    def resolve(self, tid: str | None) -> str | None:
        """Follow merges: the topic that now stands for ``tid`` (None if unknown)."""
        seen = set()
        while tid in self.topics and self.topics[tid].merged_into and tid not in seen:
            seen.add(tid)
            tid = self.topics[tid].merged_into
        return tid if tid in self.topics else None

    def _add(self, topic: MinedTopic, vec: np.ndarray, words: list[str], t_ms: int) -> list[dict]:
        topic.n += 1
        topic.centroid += (vec - topic.centroid) / min(topic.n, MEMORY)
        topic.last_ms = max(topic.last_ms, t_ms)
        self._count_terms(topic, words)
        if self._rows is not None:
            self._rows.set(self._row_of[topic.id], topic.centroid)
        if topic.n < topic.refresh_at:
            return []
        return self._refresh(topic, "update")

    def _outlier(self, post: _Outlier) -> tuple[str | None, float | None, list[dict]]:
        cfg = self.config
        if self._outlier_rows is None:
            self._outlier_rows = Rows(len(post.vec), BUFFER)
        keep = post.t_ms - self._outlier_rows.tags <= cfg.max_idle_ms
        kept = np.flatnonzero(keep)
        keep[kept[: max(0, len(kept) - (BUFFER - 1))]] = False  # at most BUFFER - 1 kept (the latest)
        self._keep_outliers(keep)
        if self.space.n >= cfg.warmup and self.outliers:
            sims = self._outlier_rows.cosines(centred(post.vec, self.space.mean), self.space.mean)
            near = [int(i) for i in np.flatnonzero(sims >= cfg.birth)]
            if len(near) + 1 >= cfg.birth_min:
                members = [self.outliers[i] for i in near] + [post]
                keep = np.ones(len(self.outliers), dtype=bool)
                keep[near] = False
                self._keep_outliers(keep)
                topic = self._birth(members)
                return topic.id, float(centred(post.vec, self.space.mean) @ centred(topic.centroid, self.space.mean)), \
                    self._refresh(topic, "birth")
        self.outliers.append(post)
        self._outlier_rows.append(post.vec, post.t_ms)
        return None, None, []

    def _keep_outliers(self, keep: np.ndarray) -> None:
        if keep.all():
            return
        assert self._outlier_rows is not None
        self.outliers = [o for o, k in zip(self.outliers, keep) if k]
        self._outlier_rows.keep(keep)

    def _birth(self, members: list[_Outlier]) -> MinedTopic:
        founder = members[0].post_id
        tid, k = topic_id(founder), 2
        while tid in self.topics:  # the same founder twice (a post replayed long after): keep ids unique
            tid, k = f"{topic_id(founder)}-{k}", k + 1
        topic = MinedTopic(tid, founder, members[0].t_ms, max(m.t_ms for m in members), len(members),
                           np.mean([m.vec for m in members], axis=0).astype(np.float32), published=False)
        for m in members:
            self._count_terms(topic, m.terms)
        self.topics[tid] = topic
        self._reindex()
        return topic

    def _count_terms(self, topic: MinedTopic, words: list[str]) -> None:
        topic.terms.update(words)
        self.all_terms.update(words)
        if len(topic.terms) > MAX_TERMS:
            ranked = sorted(topic.terms.items(), key=lambda kv: (-kv[1], kv[0]))
            for term, count in ranked[MAX_TERMS // 2:]:
                del topic.terms[term]
                self._uncount(term, count)

    def _uncount(self, term: str, count: int) -> None:
        self.all_terms[term] -= count
        if self.all_terms[term] <= 0:
            del self.all_terms[term]

    def _refresh(self, topic: MinedTopic, kind: str) -> list[dict]:
        """Recompute its keywords: its record (a ``birth`` when it is first published), or none
        while it has no label yet."""
        old = topic.keywords
        keywords = ctfidf_keywords(topic.terms, self.all_terms, len(self._active),
                                   sum(self.all_terms.values()), KEYWORDS)
        topic.keywords = keywords or old  # a published topic keeps its keywords rather than losing its label
        topic.refresh_at = max(topic.n + 3, math.ceil(topic.n * 1.2))
        if not (topic.shown and all(term in topic.keywords for term in topic.shown)):
            topic.shown = topic.keywords[:3]
        if not topic.keywords:
            return []
        if not topic.published:
            topic.published, kind = True, "birth"
        return [topic_record(topic, kind, keywords_changed=topic.keywords != old)]

    # -- maintenance ----------------------------------------------------------
    def maintain(self, watermark_ms: int) -> list[dict]:
        """Merge near-duplicate topics, retire stale ones; the records saying so."""
        records = self._merge()
        stale = [t for t in self._active if watermark_ms - self.topics[t].last_ms > self.config.max_idle_ms]
        excess = len(self._active) - len(stale) - self.config.max_topics
        if excess > 0:
            rest = sorted((t for t in self._active if t not in stale),
                          key=lambda t: (self.topics[t].last_ms, self.topics[t].n, t))
            stale += rest[:excess]
        for tid in stale:
            topic = self.topics[tid]
            topic.status = "retired"
            for term, count in topic.terms.items():
                self._uncount(term, count)
            if topic.published:
                records.append(topic_record(topic, "retire"))
        if stale:
            self._reindex()
        return records

    def _merge(self) -> list[dict]:
        if len(self._active) < 2:
            return []
        matrix = centred(np.stack([self.topics[t].centroid for t in self._active]), self.space.mean)
        sims = np.triu(matrix @ matrix.T, 1)
        pairs = sorted(((float(sims[i, j]), i, j) for i, j in zip(*np.nonzero(sims >= self.config.merge))),
                       key=lambda p: (-p[0], p[1], p[2]))
        records, gone = [], set()
        for _, i, j in pairs:
            a, b = self.topics[self._active[i]], self.topics[self._active[j]]
            if a.id in gone or b.id in gone:
                continue
            keep, drop = sorted((a, b), key=lambda t: (-t.n, t.born_ms, t.id))
            keep.centroid = ((keep.centroid * keep.n + drop.centroid * drop.n) / (keep.n + drop.n)).astype(np.float32)
            keep.n += drop.n
            keep.last_ms = max(keep.last_ms, drop.last_ms)
            keep.terms.update(drop.terms)
            drop.status, drop.merged_into = "merged", keep.id
            gone.add(drop.id)
            records += ([topic_record(drop, "merge")] if drop.published else []) + self._refresh(keep, "update")
        if gone:
            self._reindex()
        return records

    def _reindex(self) -> None:
        self._active = [t for t, topic in self.topics.items() if topic.status == "active"]
        self._row_of = {t: i for i, t in enumerate(self._active)}
        self._rows = None

    # -- queries ----------------------------------------------------------------
    def label(self, tid: str) -> str | None:
        """The label of a published topic (None for one not shown yet or unknown)."""
        topic = self.topics.get(tid)
        return topic.label if topic and topic.published else None

