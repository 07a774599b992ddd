"""A content cache in front of the text encoders: a repeated text (a copy-paste, a campaign's
identical posts, a retweet quoted verbatim) reuses the first one's extraction instead of
running the encoders again.

**Keyed by the exact text** (BLAKE2b of the value, with the modality). A normalised key (case,
URLs, handles, ``RT @user:``) would hit more often, but the encoders read the text as it is, so
a hit would hand a post the features of another text and change its result; the cache must not
change any result. The text plugin encodes one text per ONNX run (its ``BATCH_SIZE``), so a
text's features do not depend on its micro-batch: a hit is what a miss would compute.

Only the pipeline's text views (``Extractor.text_views``: the post's text, text read or heard
in its media) are cached, only successful extractions, each handed out as its own copy (the
report and the feature dict; the vectors are shared, read-only). Bounded: ``MMSTREAM_CONTENT_CACHE``
entries (least recently used go first; 0: off), 4.1 KB each for the text plugin's two
384-d views (3.0 KB of floats, 1.1 KB of objects; tracemalloc over 1,000 multilingual texts): ~41 MB
once the default 10,000 are full, the largest state a text-role worker grows (BENCHMARKS.md, "Lanes"). Hits and misses are counted for ``/metrics`` (``mmstream_content_cache_*``).
"""
from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from mmstream.plugin.extractors import Extraction, Extractor


class ContentCache:
    def __init__(self, entries: int) -> None:
        self.entries = max(0, entries)
        self._items: OrderedDict[tuple[str, bytes], Extraction] = OrderedDict()
        self._lock = threading.Lock()  # two batches' extraction run at once (the worker's overlap)
        self.hits = self.misses = 0

    def wrap(self, extractors: dict[str, Extractor], modalities: Iterable[str]) -> None:
        """Put the cache in front of the extractors of ``modalities`` (each extractor once)."""
        if not self.entries:
            return
        wanted = set(modalities)
        for extractor in {id(e): e for m, e in extractors.items() if m in wanted}.values():
            extractor.extract = self._cached(extractor.extract, wanted)  # type: ignore[method-assign]

    def _cached(self, extract: Callable[[str, Sequence[Any]], Any], wanted: set[str]) -> Callable:
        def cached(modality: str, values: Sequence[Any]) -> Any:
            if modality not in wanted:
                return extract(modality, values)
            keys = [(modality, hashlib.blake2b(v.encode("utf-8", "surrogatepass"), digest_size=16).digest())
                    if isinstance(v, str) else None for v in values]
            found: dict[int, Extraction] = {}
            with self._lock:
                for i, key in enumerate(keys):
                    if key is not None and key in self._items:
                        self._items.move_to_end(key)
                        found[i] = self._items[key]
            first: dict[Any, int] = {}  # a text twice in one call is encoded once
            todo = [i for i in range(len(values))
                    if i not in found and (keys[i] is None or first.setdefault(keys[i], i) == i)]
            if not todo:
                fresh: list = []
            else:
                fresh = extract(modality, [values[i] for i in todo])
                if not isinstance(fresh, (list, tuple)) or len(fresh) != len(todo):
                    return fresh if len(todo) == len(values) else extract(modality, values)  # the pipeline sorts it out
            computed = dict(zip(todo, fresh))
            with self._lock:
                self.hits += len(values) - len(todo)
                self.misses += len(todo)
                for i, result in computed.items():
                    if keys[i] is not None and isinstance(result, Extraction):
                        self._items[keys[i]] = _frozen(result)
                        if len(self._items) > self.entries:
                            self._items.popitem(last=False)
            out = []
            for i, key in enumerate(keys):
                if i in computed:
                    out.append(computed[i])
                else:
                    source = found.get(i) or computed.get(first[key])
                    out.append(_copy(source) if isinstance(source, Extraction) else source)
            return out
        return cached

    def describe(self) -> dict:
        with self._lock:
            looked = self.hits + self.misses
            return {"entries": len(self._items), "capacity": self.entries, "hits": self.hits, "misses": self.misses,
                    "hit_rate": round(self.hits / looked, 4) if looked else None}


def _frozen(result: Extraction) -> Extraction:
    """The cache's own copy, vectors read-only (a consumer that wrote into one would change other posts)."""
    kept = _copy(result)
    for vec in _vectors(kept.features):
        vec.flags.writeable = False
    return kept


def _vectors(features: Any) -> Iterator[np.ndarray]:
    if isinstance(features, np.ndarray):
        yield features
    elif isinstance(features, dict):
        yield from (v for v in features.values() if isinstance(v, np.ndarray))


def _copy(result: Extraction) -> Extraction:
    features = dict(result.features) if isinstance(result.features, dict) else result.features
    return Extraction(features=features, report=copy.deepcopy(result.report), derived=dict(result.derived))


def collector(cache: ContentCache) -> Any:
    """A Prometheus collector of the cache's counters (read at scrape time)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class _Collector:
        def describe(self) -> list:
            return []

        def collect(self) -> Iterator[Any]:
            d = cache.describe()
            hits = CounterMetricFamily("mmstream_content_cache_hits", "Text extractions served by the content cache")
            hits.add_metric([], d["hits"])
            misses = CounterMetricFamily("mmstream_content_cache_misses", "Text extractions the encoders ran")
            misses.add_metric([], d["misses"])
            yield hits
            yield misses
            yield GaugeMetricFamily("mmstream_content_cache_entries", "Texts in the content cache", value=d["entries"])
            yield GaugeMetricFamily("mmstream_content_cache_hit_ratio", "Hits over lookups since the worker started "
                                    "(0 before any)", value=d["hit_rate"] or 0.0)

    return _Collector()
