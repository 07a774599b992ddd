"""The worker's :class:`~mmstream.plugin.context.WorkerContext`, on its Faust app.

The only place a plugin's routes, agents, tasks, timers and shutdown steps meet Faust: plugins (and
core's own pages) call the context, this module calls ``app.page``, ``app.agent``, ``app.task``,
``app.timer`` and ``app.on_before_shutdown``.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

from mmstream.plugin.context import WORKER, Agent, View, WorkerContext

if TYPE_CHECKING:  # pragma: no cover
    from concurrent.futures import Future

    import faust

    from mmstream.settings import Settings


class FaustContext(WorkerContext):
    """The context of a worker: every method acts on ``faust_app``."""

    def __init__(self, app: "faust.App", settings: "Settings") -> None:
        super().__init__(settings, WORKER)
        #: core's own handle (the worker's Faust app): not part of the plugin contract
        #: (docs/plugins.md does not list it); kept for core modules not yet on the context
        self.faust_app = app
        self._topics: dict[tuple[str, int], Any] = {}

    def topic(self, name: str, *, partitions: int | None = None) -> Any:
        parts = partitions if partitions is not None else self.settings.partitions
        key = (self.settings.topic(name), parts)
        if key not in self._topics:
            self._topics[key] = self.faust_app.topic(key[0], partitions=parts)
        return self._topics[key]

    async def send(self, topic: str, value: bytes, *, key: bytes | None = None, partition: int | None = None,
                   headers: Any = None, timestamp: float | None = None) -> None:
        producer = await self.faust_app.maybe_start_producer()
        await (await producer.send(self.settings.topic(topic), key, value, partition, timestamp, headers))

    def submit(self, coro: Awaitable[Any]) -> "Future[Any]":
        return asyncio.run_coroutine_threadsafe(coro, self.faust_app.loop)  # type: ignore[arg-type]

    def assigned_partitions(self, topic: str) -> list[int]:
        name = self.settings.topic(topic)
        try:
            return sorted(tp.partition for tp in self.faust_app.consumer.assignment() if tp.topic == name)
        except Exception:  # noqa: BLE001 - no consumer yet
            return []

    def add_route(self, path: str, view: View, *, name: str | None = None) -> None:
        self.faust_app.page(path, name=name or getattr(view, "__name__", path))(view)

    def add_static(self, prefix: str, folder: str | Path, *, name: str | None = None) -> None:
        self.faust_app.web.add_static(prefix, Path(folder), **({"name": name} if name else {}))

    def add_agent(self, topic: Any, handle: Agent, *, name: str) -> None:
        channel = self.topic(topic) if isinstance(topic, str) else topic

        async def agent(stream: Any) -> None:
            async def records() -> AsyncIterator[Any]:
                async for event in stream.events():  # acked when the next one is asked for, as Faust does
                    yield event.message

            await handle(records())

        agent.__name__ = name
        self.faust_app.agent(channel, name=name)(agent)

    def add_task(self, run: Callable[[], Awaitable[None]]) -> None:
        async def task() -> None:
            await run()

        task.__name__ = getattr(run, "__name__", "task")
        self.faust_app.task(task)

    def add_timer(self, seconds: float, run: Callable[[], Awaitable[None]]) -> None:
        async def timer() -> None:
            await run()

        timer.__name__ = getattr(run, "__name__", "timer")
        self.faust_app.timer(interval=seconds)(timer)

    def on_shutdown(self, run: Callable[[], Awaitable[None]]) -> None:
        async def stop(app: Any, **kwargs: Any) -> None:  # noqa: ARG001
            await run()

        self.faust_app.on_before_shutdown.connect(stop)

    def routes(self) -> list[dict]:
        found = []
        for route in self.faust_app.web.web_app.router.routes():
            info = route.resource.get_info() if route.resource is not None else {}
            found.append({"method": route.method, "path": route.resource.canonical if route.resource else "",
                          "static": "directory" in info})
        return found
