"""Export of the dashboard's current view as CSV: ``/export/windows.csv`` (the chart's rows: one per
bucket and brand charted) and ``/export/mentions.csv`` (the recent mentions in range that match the
view, newest first), both with the page's query (``range``, ``window``, ``brand``, ``topic``,
``label``, ``lang``, ``platform``, ``from``/``to``, ``q``).

Same figures as the page: the windows come from the view's snapshot (:meth:`Hub.snapshot
<mmstream.web.routes.Hub.snapshot>`, the one the page's event stream sends, so from the windows or,
for a filter beyond the brand, from the mentions, :mod:`mmstream.web.filtered`); the mentions are the
live ring's in the snapshot's range (:func:`mmstream.web.filtered.in_range`) that the view matches,
and with a search (``q``) those the search finds (:func:`mmstream.web.search.matches`).

Cells are safe to open in a spreadsheet: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return (a formula to Excel, LibreOffice, Google Sheets) gets a leading single quote
(OWASP, "CSV injection"), and every text cell is quoted (RFC 4180, double quotes doubled). Numbers
the analytics computed (counts, scores) are written as numbers. Markup stays literal: CSV has none.
Behind the dashboard's token like every path (the page's session cookie, or ``Authorization:
Bearer``).
"""
from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any, Iterable

from aiohttp import web

from mmstream.errors import QueryError
from mmstream.timefmt import ms_iso
from mmstream.web import filtered, search
from mmstream.web.view import View

if TYPE_CHECKING:
    from mmstream.web.routes import Hub

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
WINDOW_COLUMNS = ("window_start", "window_end", "brand", "posts", "mean_score", "open", "source", "window")
MENTION_COLUMNS = ("id", "created_at", "brands", "author", "platform", "lang", "label", "score", "complaint",
                   "emotion", "topics", "text", "media_text", "duplicate_of", "campaign")


def cell(value: Any) -> Any:
    """One CSV cell: a number as is, None as empty, a bool as true/false, anything else as text,
    with a leading ``'`` when it starts like a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A header and the rows, every text cell quoted and neutralised (:func:`cell`), CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def window_rows(snapshot: dict) -> list[list[Any]]:
    """The chart of a snapshot as rows: bucket start and end (UTC), brand, posts, mean score, whether
    the bucket is still open, and where the figures come from (windows or mentions)."""
    chart = snapshot.get("chart") or {}
    times, brands = chart.get("t") or [], chart.get("brands") or []
    width = float(chart.get("bucket") or 0)
    opened = chart.get("open_from")
    name = (chart.get("window") or {}).get("name", "")
    rows = []
    for i, t in enumerate(times):
        for j, brand in enumerate(brands):
            rows.append([ms_iso(int(t * 1000)), ms_iso(int((t + width) * 1000)), brand, chart["posts"][j][i],
                         chart["score"][j][i], opened is not None and t >= opened, chart.get("source", ""), name])
    return rows


def view_mentions(recent: list[dict], view: View, since: int | None, until: int | None) -> list[dict]:
    """The ring's mentions in ``(since, until]`` that the view matches (and its search finds), newest first."""
    needle = view.q.casefold() if view.q else ""
    chosen = [m for m in filtered.in_range(recent, since, until)
              if view.matches(m) and (not needle or search.matches(m, needle))]
    chosen.sort(key=lambda m: m["t"] or 0, reverse=True)
    return chosen


def mention_row(m: dict) -> list[Any]:
    complaint = m.get("complaint")
    campaign = m.get("campaign") or {}
    return [m["id"], m.get("created_at"), " ".join(m["brands"]), m.get("author"), m.get("platform"), m.get("lang"),
            m.get("label"), m.get("score"), None if complaint is None else bool(complaint), m.get("emotion"),
            "; ".join(t.get("label") or t.get("id", "") for t in m.get("topics") or []), m.get("text"),
            m.get("ocr_text"), m.get("duplicate_of"), campaign.get("id")]


def _filename(kind: str, view: View) -> str:
    parts = ["mmstream", kind, view.range] + [getattr(view, k) for k in ("brand", "label", "lang", "platform")
                                                if getattr(view, k)]
    safe = "-".join(parts)
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in safe)[:120] + ".csv"


def _response(kind: str, view: View, text: str) -> web.Response:
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{_filename(kind, view)}"'})


def add_routes(context: Any, hub: "Hub") -> None:
    """``/export/windows.csv`` and ``/export/mentions.csv`` through the worker context."""

    def view_of(request: web.Request) -> View:
        analytics = hub.analytics()
        return View.from_query(request.query, analytics.spec_names if analytics else ["tumbling", "hopping"])

    async def windows(web_: Any, request: web.Request) -> web.Response:  # noqa: ARG001
        try:
            view = view_of(request)
        except QueryError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        snapshot = json.loads(await hub.snapshot(view))
        return _response("windows", view, to_csv(WINDOW_COLUMNS, window_rows(snapshot)))

    async def mentions(web_: Any, request: web.Request) -> web.Response:  # noqa: ARG001
        try:
            view = view_of(request)
        except QueryError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        hub.live.ensure_started()
        snapshot = json.loads(await hub.snapshot(view))
        since, until = view.bounds(int(snapshot.get("newest", snapshot.get("now")) or 0))  # the snapshot's range
        rows = [mention_row(m) for m in view_mentions(hub.live.recent(), view, since, until)]
        return _response("mentions", view, to_csv(MENTION_COLUMNS, rows))

    context.add_route("/export/windows.csv", windows, name="dashboard_export_windows")
    context.add_route("/export/mentions.csv", mentions, name="dashboard_export_mentions")
