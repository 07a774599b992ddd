"""Which earlier post a post repeats: the state behind each result's ``duplicate_of``.

:class:`DuplicateIndex` keeps the recent posts' signatures (:mod:`mmstream.analytics.engine.signature`)
and answers, per post, the id of the earliest post seen with the same or nearly the same
content, or None:

* **same content**: the normalised texts are equal (a retweet, a copy-paste; ``RT @user:``,
  URLs, handles, emoji, case and spacing do not count);
* **nearly the same**: a kept post shares an LSH band with it and their MinHash signatures
  agree on ``threshold`` of their values or more (estimated Jaccard similarity of the
  character 4-gram sets; default 0.5, measured by ``benchmarks/duplicates.py``);
* **the same pictures**, for a post whose text is too short to compare (a meme, a photo with
  "lol"): its images' difference hashes are all within ``IMAGE_BITS`` (8 of 64) of an earlier
  such post's (found through 16-bit bands: certain up to 3 bits, likely beyond).

The answer is the *root* of the post it matched (the earliest post of that chain), so the
copies of one text all point at the same id, and that id names its cluster (campaigns,
:mod:`mmstream.analytics.engine.campaigns`). Texts shorter than ``min_chars`` once normalised ("lol",
"thank you") are never duplicates: such coincidences are not copies.

**Bounded.** A post is kept ``ttl_ms`` of event time (the largest event time seen is the clock)
and at most ``max_entries`` posts are kept; the oldest kept go first (insertion order). A bucket
points at the *latest* kept post with that key, and forgets it when that post goes (no earlier
post with the key is kept then): the state after a checkpoint is the state of an index that
never stopped.

**Deterministic and idempotent.** No wall clock, no salted hash: the same posts in the same order
give the same answers. A post id seen again (at-least-once delivery replays a batch) gets the
answer it got the first time, and changes nothing.

**Posts answered elsewhere** (``MMSTREAM_DUPLICATE_SCOPE=cluster``, :mod:`mmstream.analytics.engine.copystate`):
:meth:`DuplicateIndex.ingest` keeps another worker's post with the root it was given there. When it
matches a kept post of another root, the two roots are one cluster: :meth:`DuplicateIndex.alias` sends
the later root to the earlier (event time, then id) for every later answer (``aliases``, bounded
like the entries), so every worker converges on the cluster's first post.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmstream.analytics.engine.signature import (HASHES, IMAGE_BITS, band_keys, content_key, image_band_keys,
                                                 image_signature, image_similarity, minhash, normalise, similarity)


@dataclass(frozen=True)
class DuplicateConfig:
    threshold: float = 0.5  # estimated Jaccard of 4-gram sets at or above which two texts are near duplicates
    min_chars: int = 16  # shorter normalised texts are never duplicates
    ttl_ms: int = 86_400_000  # a post is kept this long in event time
    max_entries: int = 20_000  # and at most this many posts are kept

    @classmethod
    def from_settings(cls, s: Any) -> "DuplicateConfig":
        return cls(s.duplicate_threshold, s.duplicate_min_chars, int(round(s.duplicate_ttl * 1000)),
                   max(1, s.duplicate_max_entries))


@dataclass(frozen=True)
class Match:
    """A post's answer: its cluster's root (None: not a duplicate) and what the campaign tracker keeps."""

    duplicate_of: str | None
    root: str | None  # the cluster it joined or starts (None: too short to compare)
    similarity: float | None = None  # to the post it matched (1.0: the same normalised text)


class DuplicateIndex:
    def __init__(self, config: DuplicateConfig) -> None:
        self.config = config
        #: post id -> (event time ms, root id, content key, author: None for a retweet or none given); oldest first
        self.entries: OrderedDict[str, tuple[int, str, str, str | None]] = OrderedDict()
        self.signatures: dict[str, np.ndarray] = {}
        self.exact: dict[str, str] = {}  # content key -> the latest kept post with it
        self.bands: dict[int, str] = {}  # band key -> the latest kept post with it
        self.clock: int | None = None  # the largest event time seen, ms
        self.stats = {"posts": 0, "exact": 0, "near": 0, "short": 0, "evicted": 0}
        #: cluster scope: root -> the earlier root of the same cluster (answers follow it); oldest first
        self.aliases: OrderedDict[str, str] = OrderedDict()

    # -- checkpoints (mmstream.analytics.state.codec): signatures as one array, buckets recomputed ----
    def __getstate__(self) -> dict:
        ids = list(self.entries)
        sigs = [self.signatures[i] for i in ids]
        # one flat array (text signatures: 64 values, images': 2 a picture), as int64 (the data format's dtypes)
        flat = np.concatenate(sigs).astype(np.int64) if sigs else np.zeros(0, np.int64)
        return {"config": self.config, "ids": ids, "rows": [list(self.entries[i]) for i in ids], "sigs": flat,
                "lens": [len(x) for x in sigs], "clock": self.clock, "stats": dict(self.stats),
                **({"aliases": OrderedDict(self.aliases)} if self.aliases else {})}

    def __setstate__(self, state: dict) -> None:
        self.config, self.clock, self.stats = state["config"], state["clock"], dict(state["stats"])
        self.entries, self.signatures, self.exact, self.bands = OrderedDict(), {}, {}, {}
        self.aliases = OrderedDict(state.get("aliases") or {})
        ends = np.cumsum(state["lens"]).tolist()
        for post_id, row, end, n in zip(state["ids"], state["rows"], ends, state["lens"]):
            t, root, key, author = row
            sig = np.asarray(state["sigs"][end - n:end], np.uint32)
            self._keep(post_id, int(t), str(root), str(key), sig, author)

    def __len__(self) -> int:
        return len(self.entries)

    # -- the per-post answer --------------------------------------------------
    def observe(self, post_id: str, t_ms: int, text: str, author: str | None = None,
                images: list[int] | tuple[int, ...] = ()) -> Match:
        """The answer for one post, which is then kept (see the module's docstring); ``author`` is kept
        with it for the campaign tracker (None: a retweet, or no author). A post whose text is too short
        to compare is compared by its ``images`` (difference hashes, :func:`~mmstream.analytics.engine.signature.dhash`)
        instead: the same pictures (every hash within ``IMAGE_BITS`` bits of one of the other post's) are the
        same content."""
        kept = self.entries.get(post_id)
        if kept is not None:  # a replay: the first answer again
            return Match(None if kept[1] == post_id else kept[1], kept[1])
        self.stats["posts"] += 1
        self.clock = t_ms if self.clock is None else max(self.clock, t_ms)
        compared = self.signature(text, images)
        if compared is None:
            self.stats["short"] += 1
            self._evict()
            return Match(None, None)
        key, sig = compared
        bands = _bands(sig)
        root, sim = self._match(key, sig, bands)
        self._keep(post_id, t_ms, root or post_id, key, sig, author, bands)
        self._evict()
        return Match(root, root or post_id, sim)

    def signature(self, text: str, images: list[int] | tuple[int, ...] = ()) -> tuple[str, np.ndarray] | None:
        """(content key, signature) a post is compared by: its text's, or its images' when the text is too
        short; None when neither can be compared."""
        norm = normalise(text)
        if len(norm) >= self.config.min_chars:
            return content_key(norm), minhash(norm)
        if images:
            return "img:" + ",".join(f"{h:016x}" for h in sorted(set(images))), image_signature(sorted(set(images)))
        return None

    # -- cluster scope: posts answered by other workers -------------------------
    def root(self, root: str) -> str:
        """The root a cluster's answers name now (``root`` itself, unless it was merged into an earlier one)."""
        seen = 0
        while root in self.aliases and seen < 64:  # a chain, never a cycle (always to an earlier root)
            root, seen = self.aliases[root], seen + 1
        return root

    def alias(self, later: str, earlier: str) -> None:
        if later != earlier:
            self.aliases[later] = earlier
            self.aliases.move_to_end(later)
            while len(self.aliases) > self.config.max_entries:
                self.aliases.popitem(last=False)

    def ingest(self, post_id: str, t_ms: int, key: str, sig: np.ndarray, root: str,
               author: str | None) -> tuple[bool, str | None]:
        """Keep a post another worker answered, with the root it got there: (kept, the root its content
        matches here, or None). Not kept: known already, or older than the time-to-live."""
        if post_id in self.entries or (self.clock is not None and t_ms < self.clock - self.config.ttl_ms):
            return False, None
        self.clock = t_ms if self.clock is None else max(self.clock, t_ms)
        bands = _bands(sig)
        stats = dict(self.stats)
        local, _ = self._match(key, sig, bands)
        self.stats = stats  # the counters count this worker's answers
        self._keep(post_id, t_ms, root, key, sig, author, bands)  # the answer it got
        self._evict()
        return True, local

    def _match(self, key: str, sig: np.ndarray, bands: list[int]) -> tuple[str | None, float | None]:
        same = self.exact.get(key)
        if same is not None:
            self.stats["exact"] += 1
            return self.root(self.entries[same][1]), 1.0
        best: tuple[float, int, str] | None = None  # (similarity, event time, id): most similar, then latest
        text = len(sig) == HASHES
        for band in bands:
            other = self.bands.get(band)
            if other is None:
                continue
            sim = similarity(sig, self.signatures[other]) if text else image_similarity(sig, self.signatures[other])
            if sim >= (self.config.threshold if text else 1 - IMAGE_BITS / 64):
                candidate = (sim, self.entries[other][0], other)
                if best is None or candidate > best:
                    best = candidate
        if best is None:
            return None, None
        self.stats["near"] += 1
        return self.root(self.entries[best[2]][1]), best[0]

    def _keep(self, post_id: str, t_ms: int, root: str, key: str, sig: np.ndarray, author: str | None,
              bands: list[int] | None = None) -> None:
        self.entries[post_id] = (t_ms, root, key, author)
        self.signatures[post_id] = sig
        self.exact[key] = post_id
        for band in _bands(sig) if bands is None else bands:
            self.bands[band] = post_id

    def _evict(self) -> None:
        cfg = self.config
        horizon = None if self.clock is None else self.clock - cfg.ttl_ms
        while self.entries:
            post_id, (t, _, key, _) = next(iter(self.entries.items()))
            if len(self.entries) <= cfg.max_entries and (horizon is None or t >= horizon):
                return
            self.entries.popitem(last=False)
            sig = self.signatures.pop(post_id)
            if self.exact.get(key) == post_id:
                del self.exact[key]
            for band in _bands(sig):
                if self.bands.get(band) == post_id:
                    del self.bands[band]
            self.stats["evicted"] += 1


def _bands(sig: np.ndarray) -> list[int]:
    """LSH keys of a text signature (HASHES values) or of an image signature (2 values a picture)."""
    return band_keys(sig) if len(sig) == HASHES else image_band_keys(sig)
