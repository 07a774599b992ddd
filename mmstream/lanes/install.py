"""Wiring the media lane into a worker's Faust app: its consumer (group ``<app id>-media``), its threads,
its delivery (at-least-once through the app's producer, or transactions) and its metrics."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from mmstream.lanes import media_group, media_plugins
from mmstream.lanes.media import MediaLane, revoke_listener
from mmstream.lanes.observe import LaneStats, media_lag
from mmstream.lanes.routing import source_of
from mmstream.pipeline.outcomes import Outcome
from mmstream.plugin.extractors import media_modalities
from mmstream.pipeline.work import Source
from mmstream.settings import Settings

#: seconds a media record may take between two polls of its consumer before the group presumes it
#: dead (a clip's extraction is bounded far below by its plugins' budgets)
MAX_POLL_INTERVAL = 900
#: the share of ``MMSTREAM_SHUTDOWN_TIMEOUT`` a stopping worker gives its clips in flight to finish: the rest
#: is for the commit, the producer's flush and leaving the groups before the worker exits anyway
FINISH_SHARE = 0.75


def media_consumer(settings: Settings, lane_ref: Callable[[], MediaLane | None]) -> Any:
    """The media lane's aiokafka consumer, subscribed to ``<prefix>media`` (not started)."""
    from aiokafka import AIOKafkaConsumer

    from mmstream.kafka.security import aiokafka_config
    from mmstream.worker.transactions import exactly_once

    session_ms = int(settings.broker_session_timeout * 1000)
    consumer = AIOKafkaConsumer(
        group_id=media_group(settings.app_id), enable_auto_commit=False, auto_offset_reset="earliest",
        isolation_level="read_committed" if exactly_once(settings) else "read_uncommitted",
        session_timeout_ms=session_ms, heartbeat_interval_ms=max(100, session_ms // 3),
        max_poll_interval_ms=MAX_POLL_INTERVAL * 1000, fetch_max_wait_ms=int(settings.fetch_max_wait * 1000),
        # what one fetch may buffer per partition: records past the one taken are given back (seek)
        max_partition_fetch_bytes=1_048_576, **aiokafka_config(settings))
    consumer.subscribe([settings.topic("media")], listener=revoke_listener(lane_ref, settings.shutdown_timeout))
    return consumer


def install_media_lane(app: Any, settings: Settings, pipeline: Any, model_thread: Any, stats: LaneStats,
                       send: Callable[[list[Outcome]], Any], transactional: Any = None,
                       encode: Callable[[Outcome], tuple] | None = None) -> MediaLane:
    """A :class:`MediaLane` on the app's pipeline, started with the worker (``app.task``). Its extraction
    runs in ``MMSTREAM_MEDIA_CONCURRENCY`` threads of its own; the fused model, enrichers and sinks in the
    worker's one model thread (the text lane's too: they keep state across batches)."""
    holder: dict[str, MediaLane] = {}
    stats.media_keys = media_modalities(pipeline.extractors, media_plugins(settings))
    pool = ThreadPoolExecutor(max_workers=max(1, settings.media_concurrency), thread_name_prefix="mmstream-media")

    async def process(record: Any) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        stamp = record.timestamp / 1000 if record.timestamp else None
        topic, partition, offset = source_of(record) or (record.topic, record.partition, record.offset)
        items = [(record.value, Source(topic, partition, offset, stamp))]
        extracted = await loop.run_in_executor(pool, lambda: pipeline.extract(pipeline.prepare(items)))
        return await loop.run_in_executor(model_thread, pipeline.finish, extracted)

    lane = MediaLane(lambda: media_consumer(settings, lambda: holder.get("lane")), process, send,
                     concurrency=settings.media_concurrency, transactional=transactional, encode=encode,
                     on_done=stats.media_done)
    holder["lane"] = lane
    stats.queued["media"] = lambda: len(lane.inflight)
    stats.lag["media"] = lambda: media_lag(lane)

    @app.task
    async def media_lane() -> None:
        await lane.run()

    @app.on_before_shutdown.connect
    async def finish_media_lane(app: Any, **kwargs: Any) -> None:  # noqa: ARG001
        # SIGTERM: Faust stops the text lane's consumer, then sends this, then flushes and stops the producer;
        # the clip in flight is finished, delivered and committed while the producer still runs
        await lane.finish(settings.shutdown_timeout * FINISH_SHARE if settings.shutdown_timeout > 0 else 3600.0)

    return lane
