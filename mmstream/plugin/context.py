"""The worker context: what a plugin's hooks get instead of the raw Faust app.

``register_enrichers``, ``register_sinks``, ``register_routes`` and ``extend_worker`` receive a
:class:`WorkerContext`. It says where the pipeline runs (:attr:`WorkerContext.mode`: ``"worker"``
in a Kafka worker, ``"offline"`` in ``score``, ``eval``, ``bench``, ``train`` and tests) and, in a
worker, is **the one way** to add HTTP routes, agents, tasks, timers and shutdown steps, to name a
topic and to produce to one. Why a context and not the app: a plugin written against it does not
depend on Faust (whose API and internals mmstream may change or patch), cannot reach core's private
attributes, and has one switch (``context.mode``) instead of ``app is None``.

Offline, the worker-only methods raise :class:`PluginError` naming the mode: a plugin asks
``context.mode == "worker"`` (or :attr:`WorkerContext.in_worker`) first, as the analytics do.

Core code (the worker, its observability, schema, analytics and dashboard pages) adds its routes
through the same methods: ``context.add_route(path, view, name=...)`` for a view
``async def view(web, request, **params)`` (``web.json(...)``, ``web.bytes(...)``; ``request`` is the
aiohttp request, and a view may return any aiohttp response, a prepared ``StreamResponse`` too) and
``context.add_static(prefix, folder, name=...)`` for a folder of files. The worker's implementation is
:class:`mmstream.worker.context.FaustContext`.

For the analytics and the dashboard (moving onto the context): ``Analytics`` takes the context, not the
app (``context.topic("mentions", partitions=...)``, ``context.submit(coro)`` from the model thread instead
of ``run_coroutine_threadsafe(..., app.loop)``, ``await context.send("mentions", value, partition=p)``,
``context.assigned_partitions("mentions")``); the engine's agents are ``context.add_agent(topic, handle,
name=...)`` over records (``.partition``, ``.offset``, ``.value``), the feed ``context.add_task``, its stop
and the dashboard's ``context.on_shutdown``; ``/``, ``/events`` and the JSON API ``context.add_route`` (an
aiohttp handler ``h(request)`` becomes ``async def view(web, request): return await h(request)``),
``/static/`` ``context.add_static``. What applies to every route (the web token's middleware, the
security headers) is the worker's own, not a plugin's: there is no context method for it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

from mmstream.errors import PluginError

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

    from mmstream.settings import Settings

WORKER = "worker"
OFFLINE = "offline"
MODES = (WORKER, OFFLINE)

#: ``async def view(web, request, **params) -> response``
View = Callable[..., Awaitable[Any]]
#: ``async def handle(records)``: ``records`` is an async iterator of the topic's records, each with
#: ``topic``, ``partition``, ``offset``, ``key``, ``value`` (bytes), ``timestamp`` (seconds) and ``headers``
Agent = Callable[[AsyncIterator[Any]], Awaitable[None]]


class WorkerContext:
    """Where a plugin runs, and (in a worker) the one way to add routes, agents, tasks and timers.

    This base class is the offline context (``mode == "offline"``): every worker-only method
    raises :class:`PluginError`. A worker hands its hooks a subclass that implements them."""

    def __init__(self, settings: "Settings", mode: str = OFFLINE) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}; use one of {MODES}")
        self.settings = settings
        self.mode = mode

    @property
    def in_worker(self) -> bool:
        """True in a Kafka worker (routes, agents and topics exist); False offline."""
        return self.mode == WORKER

    def __repr__(self) -> str:
        return f"<{type(self).__name__} mode={self.mode!r}>"

    # -- worker-only: topics and producing ---------------------------------------------------------
    def topic(self, name: str, *, partitions: int | None = None) -> Any:
        """The topic ``settings.topic(name)`` (the prefix added: ``context.topic("mentions")``) as this
        worker's agents read it; ``partitions`` defaults to ``MMSTREAM_PARTITIONS``."""
        raise self._offline("topic")

    async def send(self, topic: str, value: bytes, *, key: bytes | None = None, partition: int | None = None,
                   headers: Any = None, timestamp: float | None = None) -> None:
        """Produce one record to ``settings.topic(topic)`` and return once the broker has it
        (``await asyncio.gather(*(context.send(...) ...))`` keeps many in flight)."""
        raise self._offline("send")

    def submit(self, coro: Awaitable[Any]) -> "Future[Any]":
        """Run ``coro`` on the worker's event loop from another thread (the model thread, where
        enrichers and sinks run); a :class:`concurrent.futures.Future` of its result."""
        raise self._offline("submit")

    def assigned_partitions(self, topic: str) -> list[int]:
        """The partitions of ``settings.topic(topic)`` this worker reads now (empty before the first
        assignment)."""
        raise self._offline("assigned_partitions")

    # -- worker-only: what runs in the worker ------------------------------------------------------
    def add_route(self, path: str, view: View, *, name: str | None = None) -> None:
        """Serve ``view`` at ``path`` on the worker's web server (path parameters ``/things/{name}``
        reach the view as keyword arguments); ``name`` must be unique (default: the view's name)."""
        raise self._offline("add_route")

    def add_static(self, prefix: str, folder: str | Path, *, name: str | None = None) -> None:
        """Serve the files of ``folder`` under ``prefix`` (``/static/``)."""
        raise self._offline("add_static")

    def add_agent(self, topic: Any, handle: Agent, *, name: str) -> None:
        """Read ``topic`` (a name for ``settings.topic(name)`` or what :meth:`topic` returned) in this
        worker's consumer group: ``handle(records)`` iterates its records; a record's offset is
        committed once ``handle`` asked for the next one."""
        raise self._offline("add_agent")

    def add_task(self, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``await run()`` once, when the worker has started."""
        raise self._offline("add_task")

    def add_timer(self, seconds: float, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``await run()`` every ``seconds`` while the worker runs."""
        raise self._offline("add_timer")

    def on_shutdown(self, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``await run()`` once when the worker stops, before its consumers and producer close."""
        raise self._offline("on_shutdown")

    def routes(self) -> list[dict]:
        """Every route the worker's web server serves now (mmstream's, plugins' and the web
        framework's own), each ``{"method", "path", "static"}``: for a check that none is left
        unguarded, as the web token's test does."""
        raise self._offline("routes")

    def _offline(self, what: str) -> PluginError:
        return PluginError(f"context.{what}() exists only in a worker; this pipeline runs {self.mode} "
                           "(check context.mode == 'worker' first)")
