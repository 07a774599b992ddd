"""What the miner and the workers' assigners share: the centred embedding
space, the ``<prefix>topics`` record format, and :class:`TopicSnapshot`, the
read-only view of the mined topics a worker assigns posts with.

Records on ``<prefix>topics`` (key: the topic id) are JSON objects:

* ``{"type": "birth"|"update"|"merge"|"retire", "id", "label", "keywords",
  "keywords_changed", "posts", "born_at", "last_seen", "founder", "status",
  "merged_into", "centroid"}``: the topic's full state after the change
  (``centroid``: the raw mean embedding, float16 base64);
* ``{"type": "space", "id": "_space", "mean", "observations"}``: the mean
  subtracted before cosine similarities (changes only during warm-up).

The latest record per id is the state; a reader needs nothing else.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from mmstream.analytics.engine.events import decode_vector, encode_vector
from mmstream.timefmt import ms_iso

if TYPE_CHECKING:
    from mmstream.analytics.engine.topics import MinedTopic

#: the mean is frozen after this many vectors, so centroids stop moving under the assigners
MEAN_OBSERVATIONS = 5000
SPACE_ID = "_space"


def centred(x: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Unit-norm rows (or vector) of ``x - mean``."""
    y = x - mean if mean is not None else np.array(x, dtype=np.float32)
    norm = np.linalg.norm(y, axis=-1, keepdims=True)
    return (y / np.maximum(norm, 1e-9)).astype(np.float32)


class Rows:
    """Raw vectors kept in one array (appended, replaced or dropped in place) and
    their cosines with a query in the centred space, without centring the rows:

    ``cos(a - m, u) = (a.u - m.u) / |a - m|`` with ``|a - m|^2 = |a|^2 - 2 a.m + |m|^2``

    for a unit-norm centred query ``u``. Two matrix-vector products per query,
    where re-centring every row cost a copy and a normalisation of the whole
    matrix per post (the mean moves with every post during warm-up).
    """

    def __init__(self, dim: int, capacity: int = 64) -> None:
        self._vecs = np.zeros((max(1, capacity), dim), dtype=np.float32)
        self._sq = np.zeros(max(1, capacity), dtype=np.float64)
        self._tags = np.zeros(max(1, capacity), dtype=np.int64)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    @property
    def tags(self) -> np.ndarray:
        """One integer per row, given to :meth:`append` (the miner's: event times)."""
        return self._tags[: self.n]

    def append(self, vec: np.ndarray, tag: int = 0) -> None:
        if self.n == len(self._vecs):
            self._vecs = np.concatenate([self._vecs, np.zeros_like(self._vecs)])
            self._sq = np.concatenate([self._sq, np.zeros_like(self._sq)])
            self._tags = np.concatenate([self._tags, np.zeros_like(self._tags)])
        self.set(self.n, vec)
        self._tags[self.n] = tag
        self.n += 1

    def set(self, i: int, vec: np.ndarray) -> None:
        self._vecs[i] = vec
        self._sq[i] = float(np.dot(self._vecs[i], self._vecs[i]))

    def keep(self, mask: np.ndarray) -> None:
        """Keep the rows where ``mask`` (length ``n``) is true, in order."""
        kept = int(mask.sum())
        self._vecs[:kept] = self._vecs[: self.n][mask]
        self._sq[:kept] = self._sq[: self.n][mask]
        self._tags[:kept] = self._tags[: self.n][mask]
        self.n = kept

    def cosines(self, query: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
        """Cosines of the centred rows with the unit-norm centred ``query``."""
        rows, sq = self._vecs[: self.n], self._sq[: self.n]
        if mean is None:
            return (rows @ query) / np.sqrt(np.maximum(sq, 1e-18))
        m = mean.astype(np.float32)
        num = (rows @ query).astype(np.float64) - float(m @ query)
        den = sq - 2.0 * (rows @ m).astype(np.float64) + float(m @ m)
        return num / np.sqrt(np.maximum(den, 1e-18))


class Space:
    """The running mean of the embeddings seen, frozen after MEAN_OBSERVATIONS."""

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.n = 0

    def update(self, vec: np.ndarray) -> bool:
        """Account for ``vec``; True when the mean changed."""
        if self.n >= MEAN_OBSERVATIONS:
            return False
        self.n += 1
        self.mean = vec.astype(np.float32).copy() if self.mean is None else self.mean + (vec - self.mean) / self.n
        return True

    def record(self) -> dict:
        assert self.mean is not None
        return {"type": "space", "id": SPACE_ID, "mean": encode_vector(self.mean), "observations": self.n}


def topic_record(topic: "MinedTopic", kind: str, keywords_changed: bool = False) -> dict:
    return {"type": kind, "id": topic.id, "label": topic.label, "keywords": list(topic.keywords),
            "keywords_changed": keywords_changed, "posts": topic.n, "born_at": ms_iso(topic.born_ms),
            "last_seen": ms_iso(topic.last_ms), "founder": topic.founder, "status": topic.status,
            "merged_into": topic.merged_into, "centroid": encode_vector(topic.centroid)}


class TopicSnapshot:
    """Mined topics as of the records applied so far; thread-safe.

    ``apply`` is called by the feed thread, ``assign`` by the model thread.
    """

    def __init__(self, assign_threshold: float) -> None:
        self.assign_threshold = assign_threshold
        self._lock = threading.Lock()
        self._topics: dict[str, dict[str, Any]] = {}
        self._centroids: dict[str, np.ndarray] = {}
        self._mean: np.ndarray | None = None
        self._ids: list[str] = []
        self._matrix: np.ndarray | None = None

    def apply(self, record: dict) -> None:
        with self._lock:
            if record.get("type") == "space":
                self._mean = decode_vector(record["mean"])
            else:
                tid = record["id"]
                self._topics[tid] = {k: v for k, v in record.items() if k != "centroid"}
                # a topic without keywords (a record of an older miner) has no label: posts are not given it
                if record.get("status") == "active" and record.get("centroid") and record.get("keywords"):
                    self._centroids[tid] = decode_vector(record["centroid"])
                else:
                    self._centroids.pop(tid, None)
            self._matrix = None

    def assign(self, vec: np.ndarray) -> tuple[dict[str, Any], float] | None:
        """The nearest active topic and its similarity, when it reaches the threshold."""
        with self._lock:
            if not self._centroids:
                return None
            if self._matrix is None:
                self._ids = sorted(self._centroids)
                self._matrix = centred(np.stack([self._centroids[t] for t in self._ids]), self._mean)
            sims = self._matrix @ centred(vec, self._mean)
            best = int(np.argmax(sims))
            if sims[best] < self.assign_threshold:
                return None
            return self._topics[self._ids[best]], float(sims[best])

    def __len__(self) -> int:
        with self._lock:
            return len(self._centroids)
