"""The dashboard's routes on the worker's web server: ``/`` (the analyst's page),
``/static/...`` (its files), ``/events`` (one Server-Sent Events stream per
page) and ``/operator`` (the operator's page: readiness, lanes, dead letters).

``/events?range=&window=&brand=&topic=&label=&lang=&platform=&from=&to=&q=`` sends, about every second,
``snapshot`` (what :func:`mmstream.web.snapshot.build` gives for that view, only
when it changed) and ``mentions`` (the new mentions that match the view, newest
last, at most :data:`MENTIONS_PER_TICK`; ``skipped`` counts the others).
Snapshots are coalesced: one build per view and tick, whatever the number of
pages watching it, and a build that took long spaces the next ones (at most
:data:`BUDGET` of a core goes to building, in a thread of its own, off the event loop). ``retry`` tells the
browser to reconnect 2 s after the worker went away; a page that reconnects gets
a full snapshot and the latest mentions.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import web

from mmstream.errors import QueryError
from mmstream.web import export, thumbs
from mmstream.web.index import WindowIndex
from mmstream.web.snapshot import View, build

if TYPE_CHECKING:
    from mmstream.analytics.pipeline.service import Analytics
    from mmstream.web.live import LiveFeed

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
TICK = 1.0
BUDGET = 0.2
FIRST_MENTIONS = 100
MENTIONS_PER_TICK = 100
MAX_STREAMS = 64
#: event streams one client address may hold at once (a dashboard keeps one per open tab)
MAX_STREAMS_PER_CLIENT = 16
KEEPALIVE = 15.0


class Hub:
    """Builds snapshots (coalesced per view) and serves the event streams."""

    def __init__(self, analytics: Callable[[], "Analytics | None"], live: "LiveFeed") -> None:
        self.analytics, self.live = analytics, live
        self._cache: dict[View, tuple[float, str]] = {}
        # builds run in their own thread (the store, engine and rings are thread-safe), one at a time
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-web")
        self._building: asyncio.Lock | None = None
        self._index: WindowIndex | None = None
        self.interval = TICK
        self.streams = 0
        self.per_client: dict[str, int] = {}  # open streams by client address
        self.closing: asyncio.Event | None = None  # made on the loop, by the first stream
        self.builds = 0
        self.build_seconds = 0.0

    def _fresh(self, view: View) -> str | None:
        cached = self._cache.get(view)
        return cached[1] if cached is not None and time.monotonic() - cached[0] < self.interval else None

    async def snapshot(self, view: View) -> str:
        """The view's snapshot as JSON: the cached one while it is younger than the interval."""
        text = self._fresh(view)
        if text is not None:
            return text
        if self._building is None:
            self._building = asyncio.Lock()
        async with self._building:
            text = self._fresh(view)  # built meanwhile for another page of the same view
            if text is None:
                text = await asyncio.get_running_loop().run_in_executor(self._pool, self._build, view)
        return text

    def _build(self, view: View) -> str:
        now = time.monotonic()
        analytics = self.analytics()
        if analytics is not None and (self._index is None or self._index.store is not analytics.store):
            self._index = WindowIndex(analytics.store)
        began = time.perf_counter()
        snap = build(analytics, self.live, view, self._index if analytics is not None else None)
        text = json.dumps(snap, ensure_ascii=False, separators=(",", ":"))
        took = time.perf_counter() - began
        self.builds += 1
        self.build_seconds += took
        # views built in one tick share it: keep their total under BUDGET of a core
        self.interval = max(TICK, min(30.0, took * len(self._cache or {view: 0}) / BUDGET))
        self._cache[view] = (now, text)
        for stale in [v for v, (at, _) in self._cache.items() if now - at > 60]:
            del self._cache[stale]
        return text

    async def stream(self, request: web.Request) -> web.StreamResponse:
        try:
            analytics = self.analytics()
            view = View.from_query(request.query, analytics.spec_names if analytics else ["tumbling", "hopping"])
        except QueryError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if self.streams >= MAX_STREAMS:
            return web.json_response({"error": f"at most {MAX_STREAMS} dashboards per worker"}, status=503)
        client = request.remote or "-"
        if self.per_client.get(client, 0) >= MAX_STREAMS_PER_CLIENT:
            return web.json_response({"error": f"at most {MAX_STREAMS_PER_CLIENT} dashboards per client; close a "
                                               "tab"}, status=429)
        if self.closing is None:
            self.closing = asyncio.Event()
        self.live.ensure_started()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        self.streams += 1
        self.per_client[client] = self.per_client.get(client, 0) + 1
        try:
            await response.write(b"retry: 2000\n\n")
            sent_snapshot, last_seq, quiet, sent_any = "", 0, time.monotonic(), False
            backlog = [(s, m) for s, m in self.live.since(0) if view.matches(m)][-FIRST_MENTIONS:]
            while not self.closing.is_set():
                transport = request.transport
                if transport is None or transport.is_closing():
                    break  # the page went away: free its slot now, not at the next write (up to KEEPALIVE)
                text = await self.snapshot(view)
                if text != sent_snapshot:
                    await response.write(_event("snapshot", text))
                    sent_snapshot, quiet = text, time.monotonic()
                fresh = backlog or self.live.since(last_seq)
                backlog = []
                if fresh:
                    last_seq = fresh[-1][0]
                    matching = [m for _, m in fresh if view.matches(m)]
                    if matching:
                        shown = matching[-MENTIONS_PER_TICK:]
                        # the first fill and the read-back are a backlog, not mentions that passed unseen
                        unseen = len(matching) - len(shown) if sent_any and self.live.caught_up.is_set() else 0
                        payload = {"mentions": shown, "skipped": unseen}
                        sent_any = True
                        await response.write(_event("mentions", json.dumps(payload, ensure_ascii=False)))
                        quiet = time.monotonic()
                if time.monotonic() - quiet > KEEPALIVE:
                    await response.write(b": keepalive\n\n")
                    quiet = time.monotonic()
                try:
                    await asyncio.wait_for(self.closing.wait(), TICK)
                except asyncio.TimeoutError:
                    pass
        except ConnectionResetError:
            pass  # the page went away (a closed tab is a cancellation, which goes on up)
        finally:
            self.streams -= 1
            self.per_client[client] -= 1
            if not self.per_client[client]:
                del self.per_client[client]
        return response

    async def close(self, app: Any = None) -> None:
        """on_shutdown: end the streams, so the web server stops at once."""
        if self.closing is not None:
            self.closing.set()


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


def add_routes(context: Any, hub: Hub) -> None:
    """``/``, ``/events``, ``/static/``, and the operator's view (``/operator``: readiness, lanes, dead
    letters; ``/operator/state``: its dead letters as JSON) through the worker context, apart from the
    analyst's screen; the event streams end when the worker begins to stop (so its web server stops at once)."""
    page = (STATIC / "index.html").read_bytes()
    operator_page = (STATIC / "operator.html").read_bytes()

    async def index(web_: Any, request: web.Request) -> web.Response:  # noqa: ARG001
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    async def events(web_: Any, request: web.Request) -> web.StreamResponse:  # noqa: ARG001
        return await hub.stream(request)

    async def check_view(web_: Any, request: web.Request) -> web.Response:  # noqa: ARG001
        """``/view?...``: the view ``/events`` would show for that query, or a 400 naming the fix (the page
        checks a custom range here first: an event stream's error cannot be read)."""
        try:
            analytics = hub.analytics()
            view = View.from_query(request.query, analytics.spec_names if analytics else ["tumbling", "hopping"])
        except QueryError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"view": view.public()})

    async def operator(web_: Any, request: web.Request) -> web.Response:  # noqa: ARG001
        return web.Response(body=operator_page, content_type="text/html", charset="utf-8")

    async def operator_state(web_: Any, request: web.Request) -> web.Response:  # noqa: ARG001
        hub.live.ensure_started()
        return web.json_response({"dead_letters": hub.live.dead_letter_summary(), "dashboards": hub.streams,
                                  "snapshot_builds": hub.builds, "snapshot_seconds": round(hub.build_seconds, 3)})

    context.add_route("/", index, name="dashboard_index")
    context.add_route("/events", events, name="dashboard_events")
    context.add_route("/view", check_view, name="dashboard_view")
    context.add_route("/operator", operator, name="dashboard_operator")
    context.add_route("/operator/state", operator_state, name="dashboard_operator_state")
    export.add_routes(context, hub)  # /export/windows.csv, /export/mentions.csv: the view as CSV
    thumbs.add_routes(context, hub.live.thumbs)  # /thumb/<key>: the feed's thumbnails, same-origin under the CSP
    context.add_static("/static/", STATIC, name="dashboard_static")
    context.on_shutdown(hub.close)
