"""Typed records, one dataclass per output topic, read from the JSON values.

``parse(topic, value)`` builds the record for a topic's value (a dict). Every
field the schema requires must be there with its type, else
:class:`~mmstream.errors.SchemaError`; fields this version does not know are
ignored (they stay in ``record.raw``), which is the compatibility rule that
lets mmstream add fields without a version change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from mmstream.errors import SchemaError


def _need(value: dict, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in value:
        raise SchemaError(f"{where}: the field {name!r} is missing")
    got = value[name]
    if isinstance(got, bool) and kind in (int, float, (int, float)):
        raise SchemaError(f"{where}.{name}: a boolean where a number belongs")
    if not isinstance(got, kind):
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise SchemaError(f"{where}.{name}: {type(got).__name__} where {names} belongs")
    return got


def _time(value: dict, name: str, where: str) -> datetime:
    text = _need(value, name, str, where)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SchemaError(f"{where}.{name}: {text!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise SchemaError(f"{where}.{name}: {text!r} has no offset")
    return moment


def _num(value: dict, name: str, where: str) -> float:
    return float(_need(value, name, (int, float), where))


def _opt(value: dict, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    return None if value.get(name) is None else _need(value, name, kind, where)


@dataclass(frozen=True)
class Sentiment:
    label: str  # negative, neutral or positive
    score: float  # p(positive) - p(negative)
    probs: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, v: dict, where: str) -> "Sentiment":
        probs = v.get("probs") or {}
        if not isinstance(probs, dict):
            raise SchemaError(f"{where}.probs: not an object")
        return cls(_need(v, "label", str, where), _num(v, "score", where), {k: float(p) for k, p in probs.items()})

    @classmethod
    def maybe(cls, v: dict, name: str, where: str) -> "Sentiment | None":
        """``v[name]`` parsed; None when it is null (the model read nothing of the post)."""
        return None if v.get(name, {}) is None else cls.of(_obj(v, name, where), f"{where}.{name}")


@dataclass(frozen=True)
class Complaint:
    label: bool  # prob at or above the model's threshold
    prob: float


@dataclass(frozen=True)
class Emotion:
    label: str  # anger, joy, optimism or sadness
    probs: dict[str, float] = field(default_factory=dict)


def _complaint(v: dict, where: str) -> Complaint | None:
    c = _opt(v, "complaint", dict, where)
    return None if c is None else Complaint(_need(c, "label", bool, f"{where}.complaint"),
                                            _num(c, "prob", f"{where}.complaint"))


def _emotion(v: dict, where: str) -> Emotion | None:
    e = _opt(v, "emotion", dict, where)
    return None if e is None else Emotion(_need(e, "label", str, f"{where}.emotion"),
                                          {k: float(p) for k, p in (e.get("probs") or {}).items()})


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    kind: str  # category or mined
    score: float | None = None
    keywords: tuple[str, ...] = ()
    posts: int | None = None  # in window and alert records: the posts on it

    @classmethod
    def of(cls, v: dict, where: str) -> "Topic":
        score = _opt(v, "score", (int, float), where)
        return cls(_need(v, "id", str, where), _need(v, "label", str, where), _need(v, "kind", str, where),
                   None if score is None else float(score), tuple(v.get("keywords") or ()), _opt(v, "posts", int, where))


@dataclass(frozen=True)
class Window:
    name: str  # tumbling or hopping
    size: float  # seconds
    step: float
    start: datetime
    end: datetime

    @classmethod
    def of(cls, v: dict, where: str) -> "Window":
        return cls(_need(v, "name", str, where), _num(v, "size", where), _num(v, "step", where),
                   _time(v, "start", where), _time(v, "end", where))


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, v: dict, where: str) -> "Span":
        return cls(_time(v, "start", where), _time(v, "end", where))


@dataclass(frozen=True)
class Subject:
    type: str  # brand or topic
    id: str
    label: str


def _obj(value: dict, name: str, where: str) -> dict:
    return _need(value, name, dict, where)


def _list(value: dict, name: str, where: str) -> list:
    return _need(value, name, list, where)


@dataclass(frozen=True)
class Campaign:
    """The coordinated campaign a post belongs to (its counts as of that post)."""

    id: str
    posts: int
    authors: int
    first_seen: datetime


def _campaign(v: dict, where: str) -> Campaign | None:
    c = _opt(v, "campaign", dict, where)
    w = f"{where}.campaign"
    return None if c is None else Campaign(_need(c, "id", str, w), _need(c, "posts", int, w),
                                           _need(c, "authors", int, w), _time(c, "first_seen", w))


@dataclass(frozen=True)
class Result:
    """A post's result (``<prefix>enriched``, key: ``id``)."""

    id: str
    created_at: datetime
    brands: list[str]
    lang: str | None
    sentiment: Sentiment | None  # None: the model read nothing of the post (only a plugin's report)
    topics: list[Topic]
    modalities: dict[str, dict]
    model: str
    schema: str = "mmstream.enriched/1"
    lang_source: str | None = None  # given or detected (absent from older records)
    complaint: Complaint | None = None  # None without text, or from a model without a complaint head
    emotion: Emotion | None = None
    duplicate_of: str | None = None  # the earliest post with the same or nearly the same text (absent from older records)
    campaign: Campaign | None = None  # the coordinated campaign it belongs to
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, v: dict) -> "Result":
        w = "enriched"
        return cls(_need(v, "id", str, w), _time(v, "created_at", w), list(_list(v, "brands", w)),
                   _opt(v, "lang", str, w), Sentiment.maybe(v, "sentiment", w),
                   [Topic.of(t, f"{w}.topics") for t in _list(v, "topics", w)], dict(_obj(v, "modalities", w)),
                   _need(v, "model", str, w), v.get("schema", cls.schema), _opt(v, "lang_source", str, w),
                   _complaint(v, w), _emotion(v, w), _opt(v, "duplicate_of", str, w), _campaign(v, w), v)


@dataclass(frozen=True)
class DeadLetter:
    """A post without a result (``<prefix>dead-letter``)."""

    id: str | None
    reason: str
    detail: str
    stage: str
    payload: str
    payload_truncated: bool
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    schema: str = "mmstream.dead-letter/1"
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, v: dict) -> "DeadLetter":
        w = "dead-letter"
        return cls(_opt(v, "id", str, w), _need(v, "reason", str, w), _need(v, "detail", str, w),
                   _need(v, "stage", str, w), _need(v, "payload", str, w), _need(v, "payload_truncated", bool, w),
                   _opt(v, "topic", str, w), _opt(v, "partition", int, w), _opt(v, "offset", int, w),
                   v.get("schema", cls.schema), v)

    @property
    def key(self) -> str:
        """The post id, or ``topic:partition:offset`` of the input record without one."""
        return self.id if self.id is not None else f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class BrandStats:
    """One brand in one closed window (``<prefix>brand-stats``, key: ``brand|window|start``)."""

    brand: str
    window: Window
    closed: bool
    posts: int
    labels: dict[str, int]
    mean_score: float
    share_of_voice: float
    mentions_in_window: int
    top_topics: list[Topic]
    schema: str = "mmstream.brand-stats/1"
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    duplicates: int | None = None  # posts with a duplicate_of (None: an older record)
    campaign_posts: int | None = None  # posts in a coordinated campaign
    excluded: int | None = None  # of those, left out of the figures (MMSTREAM_CAMPAIGN_EXCLUDE)

    @classmethod
    def parse(cls, v: dict) -> "BrandStats":
        w = "brand-stats"
        return cls(_need(v, "brand", str, w), Window.of(_obj(v, "window", w), f"{w}.window"), _need(v, "closed", bool, w),
                   _need(v, "posts", int, w), {k: int(n) for k, n in _obj(v, "labels", w).items()},
                   _num(v, "mean_score", w), _num(v, "share_of_voice", w), _need(v, "mentions_in_window", int, w),
                   [Topic.of(t, f"{w}.top_topics") for t in _list(v, "top_topics", w)], v.get("schema", cls.schema), v,
                   _opt(v, "duplicates", int, w), _opt(v, "campaign_posts", int, w), _opt(v, "excluded", int, w))


@dataclass(frozen=True)
class LatePost:
    """A post that missed a closed window (``<prefix>late``, key: ``id``)."""

    id: str
    created_at: datetime
    brands: list[str]
    watermark: datetime
    missed: list[Window]
    counted_in: list[Window]
    sentiment: Sentiment | None  # None: the model read nothing of the post
    schema: str = "mmstream.late/1"
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, v: dict) -> "LatePost":
        w = "late"
        return cls(_need(v, "id", str, w), _time(v, "created_at", w), list(_list(v, "brands", w)),
                   _time(v, "watermark", w), [Window.of(x, f"{w}.missed") for x in _list(v, "missed", w)],
                   [Window.of(x, f"{w}.counted_in") for x in _list(v, "counted_in", w)],
                   Sentiment.maybe(v, "sentiment", w), v.get("schema", cls.schema), v)


@dataclass(frozen=True)
class TopicRecord:
    """A mined topic's state after a change, or the embedding space (``type == "space"``),
    on ``<prefix>topics`` (key: ``id``)."""

    type: str  # birth, update, merge, retire, or space
    id: str
    label: str | None = None
    keywords: list[str] = field(default_factory=list)
    posts: int | None = None
    status: str | None = None  # active, merged or retired
    merged_into: str | None = None
    born_at: datetime | None = None
    last_seen: datetime | None = None
    schema: str = "mmstream.topics/1"
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, v: dict) -> "TopicRecord":
        w = "topics"
        kind, tid = _need(v, "type", str, w), _need(v, "id", str, w)
        if kind == "space":
            return cls(kind, tid, schema=v.get("schema", cls.schema), raw=v)
        return cls(kind, tid, _need(v, "label", str, w), list(_list(v, "keywords", w)), _need(v, "posts", int, w),
                   _need(v, "status", str, w), _opt(v, "merged_into", str, w), _time(v, "born_at", w),
                   _time(v, "last_seen", w), v.get("schema", cls.schema), v)


@dataclass(frozen=True)
class Alert:
    """A spike alert (``<prefix>alerts``, key: ``id``)."""

    id: str
    kind: str  # volume, negative_share, complaint_share or coordinated (new kinds may come: skip those you do not know)
    subject: Subject
    window: Span
    baseline: Span
    figures: dict[str, Any]
    example_post_ids: list[str]
    top_topics: list[Topic] = field(default_factory=list)  # brand alerts
    top_brands: list[dict] = field(default_factory=list)  # topic alerts: {"brand", "posts"}
    schema: str = "mmstream.alerts/1"
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    #: coordinated alerts: template, accounts, posts, first_seen, last_seen, span_seconds, brands
    evidence: dict | None = None

    @classmethod
    def parse(cls, v: dict) -> "Alert":
        w = "alerts"
        s = _obj(v, "subject", w)
        subject = Subject(_need(s, "type", str, f"{w}.subject"), _need(s, "id", str, f"{w}.subject"),
                          _need(s, "label", str, f"{w}.subject"))
        figures = dict(_obj(v, "figures", w))
        for name in ("posts", "expected_posts", "z"):
            _need(figures, name, (int, float), f"{w}.figures")
        return cls(_need(v, "id", str, w), _need(v, "kind", str, w), subject, Span.of(_obj(v, "window", w), f"{w}.window"),
                   Span.of(_obj(v, "baseline", w), f"{w}.baseline"), figures, list(_list(v, "example_post_ids", w)),
                   [Topic.of(t, f"{w}.top_topics") for t in v.get("top_topics") or []], list(v.get("top_brands") or []),
                   v.get("schema", cls.schema), v, _opt(v, "evidence", dict, w))


#: output topic (name after the prefix) -> its record type
RECORD_TYPES: dict[str, Callable[[dict], Any]] = {
    "enriched": Result.parse, "dead-letter": DeadLetter.parse, "brand-stats": BrandStats.parse,
    "late": LatePost.parse, "topics": TopicRecord.parse, "alerts": Alert.parse,
}


def parse(topic: str, value: Any) -> Any:
    """The typed record for a value of ``topic`` (a dict from the JSON); SchemaError
    when a required field is missing or of the wrong type, or the version is unknown."""
    from mmstream.schemas import check_version

    if topic not in RECORD_TYPES:
        raise SchemaError(f"no record type for topic {topic!r}; the output topics are {', '.join(RECORD_TYPES)}")
    if not isinstance(value, dict):
        raise SchemaError(f"{topic}: the value is {type(value).__name__}, not a JSON object")
    check_version(topic, value)
    return RECORD_TYPES[topic](value)
