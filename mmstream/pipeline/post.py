"""Decoding and validating one post: raw bytes in, a :class:`Post` or a
:class:`PostError` out. Pure logic, no models, no I/O.

Posts are data, never code or paths: nothing here (or in the built-in
plugins) reads a file, fetches a URL or runs anything a post names.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from mmstream.errors import PostError
from mmstream.timefmt import TimeFormatError, iso_utc, parse_time  # noqa: F401 - iso_utc: importers of it here

#: keys with a fixed meaning; every other key must name a modality a plugin handles
META_KEYS = ("id", "created_at", "lang", "author", "platform", "brands", "meta")
MAX_ID_CHARS = 256


@dataclass
class Post:
    id: str
    created_at: datetime
    modalities: dict[str, Any]
    lang: str | None = None
    author: str | None = None
    platform: str | None = None
    brands: list[str] = field(default_factory=list)

    @property
    def created_at_iso(self) -> str:
        return iso_utc(self.created_at)


def parse_json(raw: bytes | str, max_bytes: int) -> Any:
    """Bytes -> JSON value, or PostError at stage ``decode``."""
    if raw is None or not raw.strip():
        raise PostError("empty_payload", "the Kafka record has no value; send one JSON object per record.", "decode")
    if len(raw) > max_bytes:
        raise PostError(
            "payload_too_large",
            f"the record is {len(raw)} bytes, over the {max_bytes}-byte limit (MMSTREAM_MAX_PAYLOAD_BYTES); "
            "shrink the images or raise the limit.",
            "decode",
        )
    try:
        return json.loads(raw)
    except RecursionError:
        raise PostError("too_deep", "the record nests arrays or objects too deeply to decode; send a flat post "
                        "object.", "decode") from None
    except UnicodeDecodeError:
        raise PostError("not_json", "the record is not UTF-8 text; send UTF-8 encoded JSON.", "decode") from None
    except ValueError as exc:
        raise PostError("not_json", f"the record is not valid JSON ({exc}); send one JSON object per record.", "decode") from None


def parse_created_at(value: Any) -> datetime:
    """ISO-8601 with an offset, or epoch seconds -> aware datetime (:func:`mmstream.timefmt.parse_time`);
    a post's bad time is a :class:`PostError` (``missing_created_at`` / ``bad_created_at``)."""
    try:
        return parse_time(value, "created_at")
    except TimeFormatError as exc:
        raise PostError(f"{exc.reason}_created_at", str(exc)) from None


def check_event_time(created_at: datetime, reference: float, max_future: float, max_age: float) -> None:
    """Bound a post's event time against ``reference`` (epoch seconds: the record's Kafka timestamp,
    or the clock without Kafka): more than ``max_future`` seconds ahead is ``future_created_at``,
    more than ``max_age`` behind (when ``max_age > 0``) is ``old_created_at``. One bad producer
    clock would otherwise move the analytics' watermark and send every later post to ``late``."""
    t = created_at.timestamp()
    if max_future >= 0 and t - reference > max_future:
        raise PostError("future_created_at", f"'created_at' {iso_utc(created_at)} is {t - reference:,.0f} s after the "
                        f"record was written (MMSTREAM_MAX_FUTURE={max_future:g} s); fix the producer's clock.")
    if max_age > 0 and reference - t > max_age:
        raise PostError("old_created_at", f"'created_at' {iso_utc(created_at)} is {reference - t:,.0f} s before the "
                        f"record was written (MMSTREAM_MAX_AGE={max_age:g} s); fix the producer or raise the limit.")


def _optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PostError("wrong_type", f"'{key}' must be a string, got {type(value).__name__}; fix the producer.")
    return check_unicode(key, value)


def is_unicode(text: str) -> bool:
    """False when ``text`` holds a lone UTF-16 surrogate (JSON allows ``"\\ud800"``; UTF-8 cannot encode it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_unicode(key: str, value: str) -> str:
    """``value``, or PostError ``invalid_unicode`` for text no UTF-8 output could carry."""
    if not is_unicode(value):
        raise PostError("invalid_unicode", f"'{key}' holds a lone UTF-16 surrogate ({value[:64]!r}), which is not "
                        "text; fix the producer's string escaping.")
    return value


#: JSON names of the types ``json.loads`` returns, for messages
JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def usable_id(value: Any) -> str | None:
    """``value`` when it is an id a post may carry (and a Kafka key may be), else None."""
    ok = isinstance(value, str) and value.strip() and len(value) <= MAX_ID_CHARS and is_unicode(value)
    return value if ok else None


def validate_post(obj: Any, validators: Mapping[str, Callable[[str, Any], Any]]) -> Post:
    """A decoded JSON value -> Post. ``validators`` maps each handled modality
    key to its extractor's ``validate``."""
    if not isinstance(obj, dict):
        raise PostError("not_object", f"the record is a JSON {JSON_TYPES.get(type(obj), type(obj).__name__)}, not an "
                        "object; send one post object per record.")
    post_id = obj.get("id")
    if post_id is None or post_id == "":
        raise PostError("missing_id", "the post has no 'id'; every post needs a non-empty string id.")
    if not isinstance(post_id, str):
        raise PostError("wrong_type", f"'id' must be a string, got {type(post_id).__name__}; send ids as strings.")
    if not post_id.strip():
        raise PostError("missing_id", "the post's 'id' is only whitespace; every post needs a non-empty string id.")
    if len(post_id) > MAX_ID_CHARS:
        raise PostError("bad_id", f"'id' has {len(post_id)} characters, over the limit of {MAX_ID_CHARS}; send a "
                        "shorter id (a hash of a long one works).")
    check_unicode("id", post_id)
    created_at = parse_created_at(obj.get("created_at"))
    brands = obj.get("brands", [])
    if brands is None:
        brands = []
    if not isinstance(brands, list) or not all(isinstance(b, str) for b in brands):
        raise PostError("wrong_type", "'brands' must be a list of strings; fix the producer.")
    for brand in brands:
        check_unicode("brands", brand)
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise PostError("wrong_type", "'meta' must be an object; fix the producer.")
    modalities: dict[str, Any] = {}
    for key, value in obj.items():
        if key in META_KEYS:
            continue
        if key not in validators:
            raise PostError(
                "unknown_modality",
                f"no installed plugin handles the key {key!r}; install or enable a plugin for it (`mmstream plugins` lists them, disabled ones too) or drop the key.",
            )
        if value is None:
            continue
        modalities[key] = validators[key](key, value)
    if not modalities:
        raise PostError(
            "no_modality",
            f"the post carries no modality; add one of {sorted(validators)} (e.g. 'text').",
        )
    return Post(
        id=post_id,
        created_at=created_at,
        modalities=modalities,
        lang=_optional_str(obj, "lang"),
        author=_optional_str(obj, "author"),
        platform=_optional_str(obj, "platform"),
        brands=list(dict.fromkeys(brands)),
    )
