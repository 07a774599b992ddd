"""The ``mention`` event: what the analytics need to know about one result.

Workers publish one mention per result to ``<prefix>mentions`` (``MMSTREAM_ANALYTICS_PARTITIONS``
partitions, default 4: routed by brand, :mod:`mmstream.analytics.engine.routing`), a micro-batch's
mentions of one partition in one record (one
compact JSON object per line, see :func:`encode_mentions`: one record to
send, fetch and acknowledge per batch instead of one per post); that log is
the only input of the analytics engines
(windows, topic mining, alerts), so replaying a partition rebuilds its engine's state
exactly. A mention carries what ``<prefix>enriched`` says about the post
(event time, brands, sentiment, topics) plus what the miner needs and the
result does not hold: the text embedding (float16) and the words.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: characters of post text (plus OCR text) kept for topic keywords
TEXT_KEEP = 1000


@dataclass(frozen=True)
class TopicRef:
    """A topic as a result lists it: ``kind`` is ``"mined"`` or ``"category"``."""

    id: str
    kind: str
    label: str


@dataclass
class Mention:
    id: str
    t: float  # event time: created_at, epoch seconds
    brands: list[str]
    label: str | None  # sentiment label; None: the model read nothing of the post (its sentiment is null)
    score: float | None  # sentiment score, p(positive) - p(negative); None with the label
    topics: list[TopicRef] = field(default_factory=list)
    vec: np.ndarray | None = None  # unit-norm text embedding, or None
    text: str = ""
    src: int | None = None  # the partition of <prefix>posts the post came from (None: not from Kafka)
    pt: float | None = None  # processing time: when the worker published it, epoch seconds
    #: the copy that mines topics and counts in topic windows (one per post: see mmstream.analytics.engine.routing)
    mine: bool = True
    post_brands: list[str] | None = None  # every brand of the post, when ``brands`` holds only some of them
    complaint: bool | None = None  # the result's complaint label (None: no complaint head, or no text)
    duplicate_of: str | None = None  # the result's duplicate_of
    campaign: dict | None = None  # the result's campaign ({id, posts, authors, first_seen})
    #: counted in brand windows' duplicates/campaign_posts only, not in posts, sentiment or complaints
    #: (MMSTREAM_CAMPAIGN_EXCLUDE, applied by the publisher: the log says what the engine counts)
    excluded: bool = False

    @property
    def all_brands(self) -> list[str]:
        return self.brands if self.post_brands is None else self.post_brands

    @property
    def t_ms(self) -> int:
        return int(round(self.t * 1000))

    @property
    def pt_ms(self) -> int | None:
        return None if self.pt is None else int(round(self.pt * 1000))

    @property
    def source(self) -> str:
        """The input partition, as the watermark names it."""
        return "-" if self.src is None else str(self.src)

    def to_json(self) -> bytes:
        obj: dict[str, Any] = {
            "id": self.id, "t": self.t, "brands": self.brands, "label": self.label, "score": self.score,
            "topics": [[r.id, r.kind, r.label] for r in self.topics],
            "vec": encode_vector(self.vec) if self.vec is not None else None,
            "text": self.text[:TEXT_KEEP],
        }
        if self.src is not None:
            obj["src"] = self.src
        if self.pt is not None:
            obj["pt"] = self.pt
        if not self.mine:
            obj["mine"] = False
        if self.post_brands is not None:
            obj["pb"] = self.post_brands
        if self.complaint is not None:
            obj["complaint"] = self.complaint
        if self.duplicate_of is not None:
            obj["dup"] = self.duplicate_of
        if self.campaign is not None:
            obj["camp"] = self.campaign
        if self.excluded:
            obj["ex"] = True
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Mention":
        obj = json.loads(raw)
        return cls(
            id=str(obj["id"]), t=float(obj["t"]), brands=[str(b) for b in obj.get("brands", [])],
            label=None if obj["label"] is None else str(obj["label"]),
            score=None if obj["score"] is None else float(obj["score"]),
            topics=[TopicRef(str(i), str(k), str(lab)) for i, k, lab in obj.get("topics", [])],
            vec=decode_vector(obj["vec"]) if obj.get("vec") else None,
            text=str(obj.get("text", "")),
            src=int(obj["src"]) if obj.get("src") is not None else None,
            pt=float(obj["pt"]) if obj.get("pt") is not None else None,
            mine=obj.get("mine", True) is not False,
            post_brands=[str(b) for b in obj["pb"]] if obj.get("pb") is not None else None,
            complaint=bool(obj["complaint"]) if obj.get("complaint") is not None else None,
            duplicate_of=str(obj["dup"]) if obj.get("dup") is not None else None,
            campaign=dict(obj["camp"]) if isinstance(obj.get("camp"), dict) else None,
            excluded=obj.get("ex") is True,
        )


#: bytes of mentions per record, at most (a record also holds at least one mention)
RECORD_BYTES = 512 * 1024


def encode_mentions(mentions: list[Mention]) -> list[bytes]:
    """Records for ``mentions``: one JSON object per line, about RECORD_BYTES per record."""
    records: list[bytes] = []
    lines: list[bytes] = []
    size = 0
    for mention in mentions:
        line = mention.to_json()  # JSON escapes newlines inside strings: one line per mention
        if lines and size + len(line) > RECORD_BYTES:
            records.append(b"\n".join(lines))
            lines, size = [], 0
        lines.append(line)
        size += len(line) + 1
    if lines:
        records.append(b"\n".join(lines))
    return records


#: the key of a record's progress line (mmstream.analytics.engine.routing), which is not a mention
PROGRESS_PREFIX = "$progress"
_PROGRESS = b'{"' + PROGRESS_PREFIX.encode() + b'"'


def decode_mentions(raw: bytes) -> list[bytes]:
    """The mention lines of a mentions record (each one :meth:`Mention.from_json` reads;
    the progress line left out)."""
    return [line for line in raw.split(b"\n") if line.strip() and not line.startswith(_PROGRESS)]


def encode_vector(vec: np.ndarray) -> str:
    """float16 little-endian, base64: 384 dims -> 1,024 characters."""
    return base64.b64encode(np.asarray(vec, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)
