"""The topic assigner, a pipeline enricher (the mention publisher: :mod:`mmstream.analytics.pipeline.publish`).

:class:`TopicAssigner` fills each result's ``topics`` with

* the fixed categories the fused model scores (``kind: "category"``), when the
  model has a topic head (``topic_labels`` in its config), at or above
  the model's ``topic_threshold`` (or ``MMSTREAM_CATEGORY_THRESHOLD``);
* the mined topic the post belongs to (``kind: "mined"``), if it fits one.

In a worker, mined topics come from a read-only :class:`TopicSnapshot` of the
miner's records on ``<prefix>topics`` (mining itself runs in one place, the
analytics engine). Without Kafka (``mmstream score``) the assigner runs its own
miner over the file, so births and assignments happen in line.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Sequence

import numpy as np

from mmstream.analytics.engine.topics import MinerConfig, OnlineTopicMiner
from mmstream.analytics.engine.topicspace import TopicSnapshot
from mmstream.plugin.stages import Enricher
from mmstream.settings import Settings
from mmstream.timefmt import moment_ms

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.plugin import Item

log = logging.getLogger(__name__)

#: display names of TweetTopicXL's 19 categories (the labels a topic head is trained on)
CATEGORY_NAMES = {
    "arts_&_culture": "Arts & Culture", "business_&_entrepreneurs": "Business & Entrepreneurs",
    "celebrity_&_pop_culture": "Celebrity & Pop Culture", "diaries_&_daily_life": "Diaries & Daily Life",
    "family": "Family", "fashion_&_style": "Fashion & Style", "film_tv_&_video": "Film, TV & Video",
    "fitness_&_health": "Fitness & Health", "food_&_dining": "Food & Dining", "gaming": "Gaming",
    "learning_&_educational": "Learning & Educational", "music": "Music",
    "news_&_social_concern": "News & Social Concern", "other_hobbies": "Other Hobbies",
    "relationships": "Relationships", "science_&_technology": "Science & Technology", "sports": "Sports",
    "travel_&_adventure": "Travel & Adventure", "youth_&_student_life": "Youth & Student Life",
}


def category_name(label: str) -> str:
    return CATEGORY_NAMES.get(label) or label.replace("_", " ").title()


def post_embedding(item: Item) -> np.ndarray | None:
    """The post's text embedding: its text view's (the text's, the OCR text's, the transcript's ...), or their
    normalised sum."""
    vecs = [item.features[m] for m in item.text_views if m in item.features]
    if not vecs:
        return None
    vec = np.sum(vecs, axis=0).astype(np.float32)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else None


def post_text(item: Item) -> str:
    return "\n".join(item.texts().values())


class TopicAssigner(Enricher):
    name = "topics"

    def __init__(self, settings: Settings, topic_labels: Sequence[str] = (), model_threshold: float = 0.5) -> None:
        self.topic_labels = list(topic_labels)
        self.category_threshold = settings.category_threshold or model_threshold
        self.per_label = not settings.category_threshold  # MMSTREAM_CATEGORY_THRESHOLD: one threshold for all
        self.miner: OnlineTopicMiner | None = OnlineTopicMiner(MinerConfig.from_settings(settings))
        self.snapshot: TopicSnapshot | None = None
        self._ready: threading.Event | None = None
        self._wait = settings.analytics_startup_wait

    def use_snapshot(self, snapshot: TopicSnapshot, ready: threading.Event) -> None:
        """Worker mode: assign from ``snapshot``; wait (once, up to
        ``analytics_startup_wait`` s) for ``ready``, the feed having read the
        topics written before this worker started."""
        self.snapshot, self._ready, self.miner = snapshot, ready, None

    def enrich(self, items: list[Item]) -> None:
        if self._ready is not None:
            if not self._ready.wait(self._wait):
                log.warning("topic snapshot not caught up after %.0f s; assigning with what was read", self._wait)
            self._ready = None
        super().enrich(items)  # item by item, each marked done: a retry never mines a post twice

    def enrich_item(self, item: Item) -> None:
        assert item.record is not None and item.post is not None
        item.add("topics", self._categories(item) + self._mined(item))

    def _categories(self, item: Item) -> list[dict]:
        scores = item.prediction.topics if item.prediction is not None else None
        if scores is None or not self.topic_labels:
            return []
        ranked = sorted(zip(self.topic_labels, np.asarray(scores, dtype=float)), key=lambda ls: (-ls[1], ls[0]))
        return [{"id": label, "label": category_name(label), "keywords": [], "score": round(float(p), 4),
                 "kind": "category"} for label, p in ranked if self._shown(label, p, item.prediction.topic_thresholds)]

    def _shown(self, label: str, p: float, thresholds: dict[str, float | None]) -> bool:
        """At the label's own threshold (chosen on validation for a precision target; None: never
        shown) when the model has them and MMSTREAM_CATEGORY_THRESHOLD is unset, else at the one threshold."""
        if self.per_label and label in thresholds:
            threshold = thresholds[label]
            return threshold is not None and p >= threshold
        return p >= self.category_threshold

    def _mined(self, item: Item) -> list[dict]:
        vec = post_embedding(item)
        if vec is None:
            return []
        if self.snapshot is not None:
            found = self.snapshot.assign(vec)
            if found is None:
                return []
            topic, sim = found
            return [_entry(topic["id"], topic["label"], topic["keywords"], sim)]
        assert self.miner is not None and item.post is not None
        t_ms = moment_ms(item.post.created_at)
        seen = self.miner.observe(item.post.id, t_ms, vec, post_text(item))
        if seen.topic is None:
            return []
        topic = self.miner.topics[seen.topic]
        return [_entry(topic.id, topic.label, topic.keywords, seen.similarity)]


def _entry(tid: str, label: str, keywords: list[str], sim: float | None) -> dict:
    return {"id": tid, "label": label, "keywords": list(keywords),
            "score": round(float(sim), 4) if sim is not None else None, "kind": "mined"}
