"""The CSV export's writer (mmstream/web/export.py; named apart from tests/browser/test_export.py, as
test modules share one namespace): formula cells neutralised, every text cell quoted,
markup literal, numbers as numbers; the chart's rows and the view's mentions."""
from __future__ import annotations

import csv
import io

import pytest

from mmstream.web.export import (MENTION_COLUMNS, WINDOW_COLUMNS, cell, mention_row, to_csv, view_mentions,
                                 window_rows)
from mmstream.web.view import View

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1",
           "<img src=x onerror=alert(1)>", 'a "quoted", text', "line\nbreak", "ok"]


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_text_cell_reads_back_literally_and_never_as_a_formula(value):
    rows = _read(to_csv(["v"], [[value]]))
    assert rows[0] == ["v"] and len(rows) == 2
    got = rows[1][0]
    if value[0] in "=+-@\t\r":
        assert got == "'" + value  # the single quote makes a spreadsheet show it as text
    else:
        assert got == value
    assert not got.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_text_cells_are_quoted_and_numbers_are_not():
    text = to_csv(["a", "b", "c", "d", "e"], [["x", 3, -0.5, None, True]])
    assert text == '"a","b","c","d","e"\r\n"x",3,-0.5,"","true"\r\n'
    assert cell(-0.5) == -0.5  # a computed score stays a number: only text can carry a formula
    assert cell("-0.5") == "'-0.5"  # text that looks like one is text


def test_quotes_commas_and_line_breaks_inside_cells_survive():
    value = 'she said "no", then\r\nleft'
    assert _read(to_csv(["v"], [[value]]))[1] == [value]


def test_window_rows_follow_the_chart_with_the_open_bucket_marked():
    snap = {"chart": {"t": [0, 60, 120], "brands": ["acme", "nimbus"], "posts": [[1, 2, 3], [4, 0, 6]],
                      "score": [[0.5, -0.25, None], [0.1, None, 0.2]], "open_from": 120, "bucket": 60.0,
                      "source": "windows", "window": {"name": "tumbling"}}}
    rows = window_rows(snap)
    assert [r[:6] for r in rows] == [
        ["1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z", "acme", 1, 0.5, False],
        ["1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z", "nimbus", 4, 0.1, False],
        ["1970-01-01T00:01:00Z", "1970-01-01T00:02:00Z", "acme", 2, -0.25, False],
        ["1970-01-01T00:01:00Z", "1970-01-01T00:02:00Z", "nimbus", 0, None, False],
        ["1970-01-01T00:02:00Z", "1970-01-01T00:03:00Z", "acme", 3, None, True],
        ["1970-01-01T00:02:00Z", "1970-01-01T00:03:00Z", "nimbus", 6, 0.2, True]]
    parsed = _read(to_csv(WINDOW_COLUMNS, rows))
    assert parsed[0] == list(WINDOW_COLUMNS) and len(parsed) == 7
    assert sum(int(r[3]) for r in parsed[1:] if r[2] == "acme") == 6
    assert window_rows({}) == []


def _mention(i: int, **kw) -> dict:
    m = {"id": f"p{i}", "created_at": f"2026-12-07T09:00:{i:02d}Z", "t": 1_000 * i, "brands": ["acme"],
         "label": "negative", "score": -0.5, "topics": [{"id": "m-1", "label": "luggage", "kind": "mined"}],
         "lang": "en", "text": f"text {i}", "ocr_text": None, "author": f"user{i}", "platform": "x",
         "complaint": 1, "emotion": "anger", "duplicate_of": None, "campaign": None}
    m.update(kw)
    return m


def test_view_mentions_are_the_range_and_filters_newest_first():
    ring = [_mention(1), _mention(2, label="positive"), _mention(3, brands=["nimbus"]), _mention(4, t=None),
            _mention(5, text="Lost LUGGAGE again"), _mention(6)]
    view = View(brand="acme", label="negative")
    assert [m["id"] for m in view_mentions(ring, view, 1_000, 6_000)] == ["p6", "p5"]  # (since, until]
    assert [m["id"] for m in view_mentions(ring, view, None, None)] == ["p6", "p5", "p1"]
    assert [m["id"] for m in view_mentions(ring, View(q="luggage"), None, None)] == ["p5"]


def test_hostile_author_and_text_are_exported_literally():
    m = _mention(1, author="=cmd|' /C calc'!A0", text="<script>alert(1)</script>", platform="@evil",
                 lang="+x", campaign={"id": "camp-1"})
    parsed = _read(to_csv(MENTION_COLUMNS, [mention_row(m)]))
    row = dict(zip(parsed[0], parsed[1]))
    assert row["author"] == "'=cmd|' /C calc'!A0" and row["platform"] == "'@evil" and row["lang"] == "'+x"
    assert row["text"] == "<script>alert(1)</script>"
    assert row["score"] == "-0.5" and row["complaint"] == "true" and row["campaign"] == "camp-1"
    assert row["topics"] == "luggage" and row["brands"] == "acme"
