"""mmstream.timefmt: the one conversion between the times mmstream reads and writes and epoch milliseconds,
and the errors it gives (a post's own codes come from it: tests/unit/pipeline/test_post.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mmstream.errors import MMStreamError, QueryError
from mmstream.timefmt import TimeFormatError, iso_utc, moment_ms, ms_iso, parse_time, to_ms

T = 1_764_320_400_000  # 2025-11-28T09:00:00Z


@pytest.mark.parametrize("value", ["2025-11-28T09:00:00Z", "2025-11-28T09:00:00z", " 2025-11-28T09:00:00+00:00 ",
                                   "2025-11-28T10:00:00+01:00", 1_764_320_400, 1_764_320_400.0])
def test_every_spelling_of_one_moment_is_the_same_milliseconds(value):
    assert to_ms(value) == T


def test_milliseconds_are_rounded_and_written_back_the_same():
    assert to_ms("2025-11-28T09:00:00.1236Z") == T + 124
    assert ms_iso(T) == "2025-11-28T09:00:00Z" and ms_iso(T + 123) == "2025-11-28T09:00:00.123Z"
    assert to_ms(ms_iso(T + 123)) == T + 123
    moment = datetime(2025, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert iso_utc(moment) == "2025-11-28T09:00:00Z" and moment_ms(moment) == T


@pytest.mark.parametrize("value,reason,says", [
    (None, "missing", "'created_at' is required"), ("", "missing", "is required"),
    (True, "bad", "is a boolean"), ("yesterday", "bad", "is not ISO-8601"),
    ("2025-11-28T09:00:00", "bad", "has no UTC offset"), (1e20, "bad", "out of range"), ([1], "bad", "is a list"),
])
def test_what_is_not_a_time_says_why(value, reason, says):
    with pytest.raises(TimeFormatError, match=says) as caught:
        parse_time(value)
    assert caught.value.reason == reason and isinstance(caught.value, (MMStreamError, ValueError))


def test_the_field_is_named_in_the_message():
    with pytest.raises(TimeFormatError, match="^'from' '2025-11-28T09:00:00' has no UTC offset"):
        parse_time("2025-11-28T09:00:00", "from")


def test_query_errors_share_the_one_exception_root():
    assert issubclass(QueryError, MMStreamError)
