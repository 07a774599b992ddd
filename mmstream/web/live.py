"""The live side of the dashboard: a thread that tails ``<prefix>posts``,
``<prefix>enriched`` and ``<prefix>dead-letter`` (no consumer group, every
partition) and keeps the most recent mentions and dead letters in bounded rings.

Why the topics and not what this worker produced itself: with several workers
each one scores only its own partitions, so a ring of its own results would show
a dashboard a fraction of the stream, a different fraction on each worker. The
topics hold every worker's outcomes; any worker's dashboard shows them all.
Results carry no post text (they are compact and idempotent), so the text,
author and platform come from the post itself, joined by id: the post is always
written before its result; a result whose post was not read (before the tail
began) is shown without text after :data:`JOIN_WAIT` seconds. A result's thumbnails (a plugin report's
``thumbnail``) go to a bounded store served at ``/thumb/<key>`` (:mod:`mmstream.web.thumbs`); the mention
names them (``thumbs``), unless ``MMSTREAM_FEED_THUMBNAILS=0``.

The thread starts with the first dashboard client (a worker nobody watches pays
nothing) and begins :data:`TAIL` records before the end of each partition.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections import Counter, OrderedDict, deque
from typing import Any

from mmstream.kafka.follow import TopicFollower
from mmstream.settings import Settings
from mmstream.timefmt import TimeFormatError, to_ms
from mmstream.web.thumbs import ThumbStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import TopicPartition

log = logging.getLogger(__name__)

MENTIONS = 2000  # mentions kept (the feed shows the newest that match the filters)
DEAD_LETTERS = 200
POSTS = 5000  # posts whose text waits for its result
TAIL = 300  # records per partition read back when the thread starts
JOIN_WAIT = 2.0
RATE_WINDOW = 20_000  # event times kept for the mentions-per-minute figure (its ceiling)
TEXT_CHARS = 1000
POLL_MS = 100


def complaint_of(result: dict) -> bool | None:
    """The result's complaint flag, whatever its shape (``{"label": true, "prob": 0.97}`` as
    the model gives it, a bool, a probability, or an object with ``flag``/``is_complaint``/
    ``probability``); None without one."""
    value = result.get("complaint")
    if isinstance(value, dict):
        for key in ("label", "flag", "is_complaint", "complaint"):
            if isinstance(value.get(key), bool):
                return value[key]
        if isinstance(value.get("label"), str):
            return value["label"] in ("complaint", "yes", "true")
        value = value.get("prob", value.get("probability", value.get("score")))
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value >= 0.5
    return None


def _clip(value: Any, chars: int = TEXT_CHARS) -> str:
    text = value if isinstance(value, str) else ""
    return text if len(text) <= chars else text[:chars] + "…"


def _ms(value: Any) -> int | None:
    try:
        return to_ms(value)
    except (TimeFormatError, ValueError, TypeError, OverflowError):
        return None


def media_text(result: dict) -> str | None:
    """The text a plugin read or heard in the post's media, as its report gives it: the first report's
    ``ocr_text`` (an image's, a video's captions), else the first ``transcript`` (a voice note's, a video's
    sound). Read from the reports' fields, whatever plugin wrote them: the feed shows results other workers
    made, with plugins this process may not have."""
    reports = [r for r in (result.get("modalities") or {}).values() if isinstance(r, dict)]
    for field in ("ocr_text", "transcript"):
        found = next((r[field] for r in reports if isinstance(r.get(field), str) and r[field].strip()), None)
        if found:
            return found
    return None


def campaign_of(result: dict) -> dict | None:
    """The result's ``campaign`` ({id, posts, authors, first_seen}) in the shape the page reads, or None."""
    camp = result.get("campaign")
    if not isinstance(camp, dict) or not isinstance(camp.get("id"), str):
        return None
    count = lambda key: camp[key] if isinstance(camp.get(key), int) and not isinstance(camp[key], bool) else None  # noqa: E731
    return {"id": _clip(camp["id"], 100), "posts": count("posts"), "authors": count("authors"),
            "first_seen": _ms(camp.get("first_seen"))}


def mention_of(result: dict, post: dict | None) -> dict:
    """What the feed shows of one result (and its post when known)."""
    post = post or {}
    sentiment = result.get("sentiment") or {}
    emotion = result.get("emotion")
    topics = [{"id": str(t.get("id", "")), "label": str(t.get("label", "")), "kind": str(t.get("kind", ""))}
              for t in result.get("topics") or [] if isinstance(t, dict)]
    return {
        "id": str(result.get("id", "")),
        "created_at": result.get("created_at"),
        "t": _ms(result.get("created_at")),
        "brands": [str(b) for b in result.get("brands") or []],
        "label": str(sentiment.get("label", "")),
        "score": sentiment.get("score") if isinstance(sentiment.get("score"), (int, float)) else None,
        "topics": topics,
        "lang": str(result.get("lang") or post.get("lang") or ""),
        "text": _clip(post.get("text")),
        "ocr_text": _clip(media_text(result)),
        "author": _clip(post.get("author"), 100),
        "platform": _clip(post.get("platform"), 40),
        "complaint": complaint_of(result),
        "emotion": str(emotion.get("label", "")) if isinstance(emotion, dict) else (emotion if isinstance(emotion, str) else ""),
        "has_post": bool(post),
        "duplicate_of": _clip(result["duplicate_of"], 256) if isinstance(result.get("duplicate_of"), str) else None,
        "campaign": campaign_of(result),
        "thumbs": [],  # set by LiveFeed from the result's thumbnails: [{src, width, height, what}]
    }


class LiveFeed(TopicFollower):
    """Tails the input, result and dead-letter topics into bounded rings (thread-safe reads)."""

    label = "dashboard live feed"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, "mmstream-web-live")
        self.topics = {settings.topic("posts"): "post", settings.topic("enriched"): "result",
                       settings.topic("dead-letter"): "dead_letter"}
        self._lock = threading.Lock()
        self._launched = False
        self.caught_up = threading.Event()  # the records before the tail's start were read back
        self.seq = 0  # sequence number of the newest mention
        self.mentions: deque[tuple[int, dict]] = deque(maxlen=MENTIONS)
        self.dead_letters: deque[dict] = deque(maxlen=DEAD_LETTERS)
        self.dead_by_reason: Counter = Counter()
        self.dead_last: dict[tuple[str, str], dict] = {}
        self._posts: OrderedDict[str, dict] = OrderedDict()
        self._pending: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._recent_ids: OrderedDict[str, None] = OrderedDict()
        self._times: deque[int] = deque(maxlen=RATE_WINDOW)  # event times of the mentions read, for the rate
        self.records = 0
        self.thumbnails = settings.feed_thumbnails  # MMSTREAM_FEED_THUMBNAILS=0: none kept, none shown
        self.thumbs = ThumbStore()

    # -- lifecycle -----------------------------------------------------------------
    def ensure_started(self) -> None:
        with self._lock:
            if self._launched:
                return
            self._launched = True
        self.start()

    def consume(self) -> None:
        from mmstream.kafka.clients import kafka_consumer

        consumer = kafka_consumer(self.settings, "mmstream-web-live")
        try:
            partitions = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning()
            # an end offset may be low on some brokers (tansu after a batch): then a little more is read back
            ends = consumer.end_offsets(partitions)
            for tp, end in ends.items():
                start = max(0, (end or 0) - TAIL)
                if start:
                    consumer.seek(tp, start)
            while not self._stop_event.is_set():
                polled = consumer.poll(timeout_ms=POLL_MS)
                if not self.caught_up.is_set() and all(consumer.position(tp) >= (end or 0) for tp, end in ends.items()):
                    self.caught_up.set()  # what follows is new, not the read-back
                # posts first: a result polled with its post finds the text
                for tp in sorted(polled, key=lambda tp: self.topics[tp.topic] != "post"):
                    kind = self.topics[tp.topic]
                    for message in polled[tp]:
                        self._apply(kind, message.value)
                self._flush_pending(time.monotonic())
        finally:
            consumer.close(autocommit=False)

    # -- records -------------------------------------------------------------------
    def _apply(self, kind: str, value: bytes | None) -> None:
        try:
            record = json.loads(value or b"null")
        except ValueError:
            return  # a post that is not JSON is dead-lettered by the worker and shows up as such
        if not isinstance(record, dict):
            return
        self.records += 1
        if kind == "post":
            self.add_post(record)
        elif kind == "result":
            self.add_result(record)
        else:
            self.add_dead_letter(record)

    def add_post(self, post: dict) -> None:
        pid = post.get("id")
        if not isinstance(pid, str):
            return
        keep = {k: _clip(post.get(k), TEXT_CHARS if k == "text" else 100) for k in ("text", "author", "platform", "lang")}
        with self._lock:
            pending = self._pending.pop(pid, None)
            if pending is None:
                self._posts[pid] = keep
                while len(self._posts) > POSTS:
                    self._posts.popitem(last=False)
                return
        self._show(pending[1], keep)

    def add_result(self, result: dict, now: float | None = None) -> None:
        pid = str(result.get("id", ""))
        with self._lock:
            post = self._posts.pop(pid, None)
            if post is None:
                self._pending[pid] = (time.monotonic() if now is None else now, result)
                return
        self._show(result, post)

    def _flush_pending(self, now: float) -> None:
        due = []
        with self._lock:
            while self._pending:
                pid, (since, result) = next(iter(self._pending.items()))
                if now - since < JOIN_WAIT:
                    break
                self._pending.popitem(last=False)
                due.append(result)
        for result in due:
            self._show(result, None)

    def _show(self, result: dict, post: dict | None) -> None:
        mention = mention_of(result, post)
        if self.thumbnails:
            mention["thumbs"] = self.thumbs.keep(result)
        with self._lock:
            if mention["id"] in self._recent_ids:  # at-least-once: a post processed twice is shown once
                return
            self._recent_ids[mention["id"]] = None
            while len(self._recent_ids) > MENTIONS * 2:
                self._recent_ids.popitem(last=False)
            self.seq += 1
            self.mentions.append((self.seq, mention))
            if mention["t"] is not None:
                self._times.append(mention["t"])

    def add_dead_letter(self, record: dict) -> None:
        entry = {"id": _clip(record.get("id"), 256) or None, "reason": str(record.get("reason", "unknown")),
                 "stage": str(record.get("stage", "")), "detail": _clip(record.get("detail"), 300)}
        with self._lock:
            key = (entry["reason"], entry["stage"])
            self.dead_by_reason[key] += 1
            self.dead_last[key] = entry
            self.dead_letters.append(entry)

    # -- reads (any thread) ------------------------------------------------------------
    def since(self, seq: int) -> list[tuple[int, dict]]:
        with self._lock:
            if not self.mentions or self.mentions[-1][0] <= seq:
                return []
            return [(s, m) for s, m in self.mentions if s > seq]

    def recent(self) -> list[dict]:
        with self._lock:
            return [m for _, m in self.mentions]

    def post_text(self, pid: str) -> str | None:
        with self._lock:
            for _, mention in reversed(self.mentions):
                if mention["id"] == pid:
                    return mention["text"] or mention["ocr_text"]
        return None

    def per_minute(self, now_ms: int) -> int:
        """Mentions in the minute of event time before ``now_ms``, among the last
        :data:`RATE_WINDOW` read (they arrive in no strict event-time order)."""
        with self._lock:
            times = list(self._times)
        return sum(1 for t in times if now_ms - 60_000 < t <= now_ms)

    def dead_letter_summary(self) -> dict:
        with self._lock:
            rows = [{"reason": r, "stage": s, "count": n, "last": self.dead_last[(r, s)]}
                    for (r, s), n in self.dead_by_reason.most_common()]
        return {"total": sum(r["count"] for r in rows), "reasons": rows}
