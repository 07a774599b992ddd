"""The analytics' agents, task and pages in a worker: :func:`install_engine`.

* the agent ``analytics`` reads ``<prefix>mentions`` (each partition one engine, on the worker the
  consumer group gives it) and sends the engines' outputs: ``<prefix>late``, ``<prefix>topics``,
  ``<prefix>alerts`` and the closed windows to ``<prefix>window-totals``;
* the agent ``share-of-voice`` reads ``<prefix>window-totals`` (one partition: one worker at a
  time) and writes ``<prefix>brand-stats`` once every engine partition is done with a window;
* a task starts the feed (every worker), stopped at shutdown;
* the JSON API's pages (:mod:`mmstream.analytics.serving.http`).

Per record the agents hand the work to :class:`~mmstream.analytics.pipeline.replay.EngineRunner`
(which rebuilds an engine first when the record is not the one it expects) and send what comes out.
"""
from __future__ import annotations

import json
from typing import Any

import faust

from mmstream.analytics.engine.core import OUTPUT_TOPICS, Output
from mmstream.analytics.pipeline.service import Analytics, analytics_for
from mmstream.analytics.serving.http import register_routes
from mmstream.settings import Settings


def install_engine(app: faust.App, settings: Settings) -> Analytics:
    """Add the engine partitions' agent, the share-of-voice stage's agent, the feed's task and the pages."""
    analytics = analytics_for(app, settings)
    runner = analytics.runner
    outputs = {name: app.topic(settings.topic(name), partitions=settings.partitions)
               for name in (*OUTPUT_TOPICS, "brand-stats") if name != "window-totals"}
    outputs["window-totals"] = analytics.totals

    async def send(produced: list[Output]) -> None:
        for out in produced:
            await outputs[out.topic].send(key=out.key.encode(), value=_dumps(out.value))

    @app.agent(analytics.mentions, name="analytics")
    async def run_engine(stream: faust.Stream) -> None:
        async for event in stream.events():
            message = event.message
            await send(await runner.mentions_record(message.partition, message.offset, message.value))

    @app.agent(analytics.totals, name="share-of-voice")
    async def run_stage(stream: faust.Stream) -> None:
        async for event in stream.events():
            await send(await runner.totals_record(event.message.offset, event.message.value))

    @app.task
    async def start_feed() -> None:
        analytics.feed.start()

    @app.on_before_shutdown.connect
    async def stop_feed(app: Any, **kwargs: Any) -> None:  # noqa: ARG001
        analytics.feed.stop()

    register_routes(app, analytics)
    return analytics


def _dumps(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
