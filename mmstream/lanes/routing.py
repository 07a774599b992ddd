"""The text lane's routing decision: which records go to the media topic.

A record goes to the media lane when its JSON object has a key that a media-lane extractor reads
(``Extractor.lane = "media"``: ``videos``, ``audio``, a third party's heavy modality) and a usable
post id (the routing record's key). Anything else stays in the text lane, malformed records too: they
are dead-lettered there with their reason, as before. A post is routed whole: its text, images and
clips get one outcome, from the media lane.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from mmstream.pipeline.outcomes import Outcome
from mmstream.pipeline.post import usable_id

ROUTE = "route"  # the Outcome kind of a record handed to the media lane
#: the routing record's header naming the input record (JSON [topic, partition, offset]): the media lane's
#: dead letters name the post's record on the posts topic, as the text lane's do
SOURCE_HEADER = "mmstream-source"


@dataclass
class Routed(Outcome):
    """A record handed to the media lane: ``data`` is the post's record as it came, ``timestamp``
    the input record's (seconds), kept on the routing record so event-time checks and the media
    lane's latency count from the post's arrival; ``headers`` name the input record (:data:`SOURCE_HEADER`)."""

    timestamp: float | None = None
    headers: list[tuple[str, bytes]] | None = None


class MediaRouter:
    def __init__(self, keys: Iterable[str], max_bytes: int) -> None:
        self.keys = frozenset(keys)
        self.max_bytes = max_bytes
        # a record that names none of the keys is not parsed here (a tweet: a substring test)
        self._needles = tuple(json.dumps(k).encode() for k in sorted(self.keys))

    def route(self, raw: Any) -> str | None:
        """The post id when ``raw`` goes to the media lane, else None (the text lane takes it)."""
        if not self.keys or not isinstance(raw, (bytes, bytearray)) or len(raw) > self.max_bytes:
            return None
        if b"\\u" not in raw and not any(needle in raw for needle in self._needles):
            return None  # (a key spelt with \\u escapes is parsed below)
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(obj, dict) or not any(key in obj for key in self.keys):
            return None
        return usable_id(obj.get("id"))

    def split(self, events: list[Any]) -> list[Routed | None]:
        """Per event, its :class:`Routed` outcome or None (``events`` have ``.message.value``)."""
        routed: list[Routed | None] = []
        for event in events:
            message = event.message
            post_id = self.route(message.value)
            source = json.dumps([message.topic, message.partition, message.offset]).encode()
            routed.append(None if post_id is None else
                          Routed(ROUTE, {"id": post_id}, bytes(message.value), timestamp=message.timestamp,
                                 headers=[(SOURCE_HEADER, source)]))
        return routed


def source_of(record: Any) -> tuple[str, int, int] | None:
    """The input record a routing record names (its :data:`SOURCE_HEADER`), else None."""
    for key, value in getattr(record, "headers", None) or ():
        if key == SOURCE_HEADER:
            try:
                topic, partition, offset = json.loads(value)
                return str(topic), int(partition), int(offset)
            except (ValueError, TypeError):
                return None
    return None
