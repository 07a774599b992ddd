"""Times as mmstream reads and writes them, in one place.

mmstream takes a time as ISO-8601 with an offset (``Z`` included) or as epoch seconds,
and writes it as ISO-8601 in UTC (``2026-11-28T09:00:00.123Z``); inside, windows, watermarks
and alerts count integer milliseconds. The conversion from text to milliseconds was once
written in five places (the query store, the HTTP queries twice, the dashboard's index and its
live feed), each by way of the post validator: here it is :func:`to_ms`, and post validation
(:func:`mmstream.pipeline.post.parse_created_at`) wraps :func:`parse_time` with its own dead-letter
codes.

No imports from the rest of mmstream but the exception root: every layer may use it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mmstream.errors import MMStreamError


class TimeFormatError(MMStreamError, ValueError):
    """A time that is neither ISO-8601 with an offset nor epoch seconds. ``reason`` is
    ``missing`` (none given) or ``bad``; the message names the value and the fix."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_time(value: Any, name: str = "created_at") -> datetime:
    """ISO-8601 with an offset, or epoch seconds -> aware datetime; :class:`TimeFormatError`
    otherwise (``name`` is the field the messages name)."""
    if value is None or value == "":
        raise TimeFormatError("missing", f"'{name}' is required: ISO-8601 with an offset or epoch seconds.")
    if isinstance(value, bool):
        raise TimeFormatError("bad", f"'{name}' is a boolean; send ISO-8601 with an offset or epoch seconds.")
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise TimeFormatError("bad", f"'{name}' epoch {value!r} is out of range; send epoch seconds.") from None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise TimeFormatError(
                "bad", f"'{name}' {value[:64]!r} is not ISO-8601; send e.g. 2026-11-28T09:00:00+00:00 or epoch seconds.",
            ) from None
        if moment.tzinfo is None:
            raise TimeFormatError("bad", f"'{name}' {value[:64]!r} has no UTC offset; add one, e.g. +00:00 or Z.")
        return moment
    raise TimeFormatError("bad", f"'{name}' is a {type(value).__name__}; send an ISO-8601 string or a number.")


def to_ms(value: Any) -> int:
    """Epoch milliseconds of a time :func:`parse_time` reads (rounded); :class:`TimeFormatError` otherwise."""
    return moment_ms(parse_time(value))


def moment_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (rounded)."""
    return int(round(moment.timestamp() * 1000))


def iso_utc(moment: datetime) -> str:
    """``2026-11-28T09:00:00.123Z``: ISO-8601 in UTC, milliseconds kept when present."""
    moment = moment.astimezone(timezone.utc)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def ms_iso(ms: int) -> str:
    """Epoch milliseconds as :func:`iso_utc` writes them."""
    return iso_utc(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))
