"""Mentions partitioned by brand: which engine partition gets what.

``<prefix>mentions`` has ``MMSTREAM_ANALYTICS_PARTITIONS`` partitions (N); each is
one engine (windows, alerts, brand statistics of its brands), owned by whichever
worker the consumer group gives it. Per post, the publisher sends

* to the partition of each brand (:func:`engine_partition`: CRC-32 of the brand id
  modulo N, stable across processes and releases) a mention holding that
  partition's brands only, without the embedding and the words (a post naming
  two brands of two partitions gives one mention to each);
* to :data:`TOPIC_PARTITION` the *mining* copy (``mine``: the miner observes it and
  topic windows count it), with the embedding, the words and every brand of the
  post (``post_brands``); it also carries that partition's own brands, if any.

So every post is mined once, in one place: topic ids stay one global space with
no coordination (the miner's cost is measured to keep up with the partitioned
rate, BENCHMARKS.md). With N = 1 a post is one mention, as before partitioning.

**Progress.** The last record of a batch for each engine partition ends with a
progress line, ``{"$progress": {"src": {input partition: t}, "pt": ...}}``: the largest
event time of the batch per input partition, and the batch's processing time
(:func:`~mmstream.analytics.engine.events.decode_mentions` leaves it out; it is in the
value, not a header, so every client and every replay sees it). Every engine
partition gets a record per batch, a progress line alone when none of the batch's
posts concern it. An engine's watermark so follows every input
partition, even one whose posts never name this engine's brands: windows close as
event time moves everywhere, and the share-of-voice stage hears from every engine.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import replace

from mmstream.analytics.engine.events import PROGRESS_PREFIX, Mention, encode_mentions

TOPIC_PARTITION = 0


def engine_partition(brand: str, partitions: int) -> int:
    """The engine partition of ``brand``: CRC-32 of its id, modulo ``partitions``."""
    return zlib.crc32(brand.encode("utf-8")) % partitions if partitions > 1 else 0


def split(mention: Mention, partitions: int) -> dict[int, Mention]:
    """The copies of one post's mention, by engine partition."""
    if partitions <= 1:
        return {0: mention}
    groups: dict[int, list[str]] = {}
    for brand in mention.brands:
        groups.setdefault(engine_partition(brand, partitions), []).append(brand)
    out = {TOPIC_PARTITION: replace(mention, brands=groups.pop(TOPIC_PARTITION, []),
                                    post_brands=list(mention.brands), mine=True)}
    for p, brands in groups.items():
        out[p] = replace(mention, brands=brands, vec=None, text="", mine=False, post_brands=None)
    return out


def progress_of(mentions: list[Mention]) -> dict:
    """The batch's progress: the largest event time per input partition, and the processing time."""
    marks: dict[str, float] = {}
    pt = None
    for m in mentions:
        if m.src is not None:
            key = str(m.src)
            marks[key] = max(marks.get(key, m.t), m.t)
        if m.pt is not None:
            pt = m.pt if pt is None else max(pt, m.pt)
    return {"src": marks, "pt": pt}


def route(mentions: list[Mention], partitions: int) -> list[tuple[int, bytes]]:
    """Records for a batch's ``mentions``: (engine partition, value), every partition at
    least once; a partition's mentions in as few records as
    :func:`~mmstream.analytics.engine.events.encode_mentions` allows, the progress line ending the last."""
    by_partition: dict[int, list[Mention]] = {p: [] for p in range(max(1, partitions))}
    for mention in mentions:
        for p, copy in split(mention, partitions).items():
            by_partition[p].append(copy)
    progress = progress_of(mentions)
    line = json.dumps({PROGRESS_PREFIX: progress}, separators=(",", ":")).encode() if progress["src"] else b""
    out: list[tuple[int, bytes]] = []
    for p, copies in by_partition.items():
        records = encode_mentions(copies) if copies else []
        if line:
            records = records[:-1] + [records[-1] + b"\n" + line] if records else [line]
        out += [(p, value) for value in records]
    return out


def read_progress(value: bytes | None) -> dict | None:
    """The progress line of a record (None when it has none, or it cannot be read)."""
    if not value:
        return None
    last = value.rsplit(b"\n", 1)[-1]
    if not last.startswith(b'{"' + PROGRESS_PREFIX.encode() + b'"'):
        return None
    try:
        progress = json.loads(last)[PROGRESS_PREFIX]
    except (ValueError, TypeError, KeyError):
        return None
    return progress if isinstance(progress, dict) and isinstance(progress.get("src"), dict) else None
