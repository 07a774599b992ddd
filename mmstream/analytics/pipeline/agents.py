"""The analytics' agents, task and pages in a worker, through its context: :func:`install_engine`.

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
from typing import Any, AsyncIterator

from mmstream.analytics.engine.core import Output
from mmstream.analytics.pipeline.service import Analytics, analytics_for
from mmstream.analytics.serving.http import register_routes
from mmstream.kafka import catalogue
from mmstream.settings import Settings


def install_engine(context: Any, settings: Settings) -> Analytics:
    """Add the engine partitions' agent, the share-of-voice stage's agent, the feed's task and the
    JSON API's pages to the worker of ``context`` (a :class:`~mmstream.plugin.context.WorkerContext`)."""
    analytics = analytics_for(context, settings)
    runner = analytics.runner
    # the topics the engines and the share stage write (the topic catalogue), as the context names them;
    # a record is queued in order and not awaited here (``context.send`` would wait for each one's
    # delivery): the agent's commit comes after, as before
    outputs = {name: context.topic(name, partitions=catalogue.topic(name).partition_count(settings))
               for name in catalogue.written_by(catalogue.ENGINE, catalogue.SHARE_STAGE)}

    async def send(produced: list[Output]) -> None:
        for out in produced:
            await outputs[out.topic].send(key=out.key.encode(), value=_dumps(out.value))

    async def run_engine(records: AsyncIterator[Any]) -> None:
        async for record in records:
            await send(await runner.mentions_record(record.partition, record.offset, record.value))

    async def run_stage(records: AsyncIterator[Any]) -> None:
        async for record in records:
            await send(await runner.totals_record(record.offset, record.value))

    async def start_feed() -> None:
        analytics.feed.start()

    async def stop_feed() -> None:
        analytics.feed.stop()

    context.add_agent(analytics.mentions, run_engine, name="analytics")
    context.add_agent(analytics.totals, run_stage, name="share-of-voice")
    context.add_task(start_feed)
    context.on_shutdown(stop_feed)
    register_routes(context, analytics)
    return analytics


def _dumps(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
