"""The Faust application factory: ``create_app(settings)``.

The worker runs the lanes of its role (``MMSTREAM_LANES``: :mod:`mmstream.lanes`). The text lane:
one agent reads ``<prefix>posts`` in micro-batches (:func:`overlapped_batches`),
decodes them in a prepare thread, extracts features (two batches at once) and
runs the fused model, enrichers and sinks in a single model thread, batch after
batch in order (all off the event loop), and writes every outcome to ``<prefix>enriched`` or
``<prefix>dead-letter``, keyed by post id; a post with a media-lane modality is routed to
``<prefix>media`` instead, where the media lane (:mod:`mmstream.lanes.media`) gives it its outcome.
Offsets are acknowledged only after a batch's outcomes were handed to the
producer: at-least-once, with identical results when a post is replayed.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import faust

from mmstream.lanes import ROLES, media_group, media_plugins, parse_role
from mmstream.lanes.observe import LaneStats, media_assignment_check, text_lag
from mmstream.lanes.routing import ROUTE, MediaRouter
from mmstream.web import secure_web_server
from mmstream.observability import install_observability
from mmstream.worker.context import FaustContext
from mmstream.worker.overlap import InOrder, overlapped_batches
from mmstream.worker.transactions import TransactionalDelivery, exactly_once
from mmstream.kafka.faust_patches import hand_commits_to_transactions, set_fetch_max_wait
from mmstream.kafka.security import faust_credentials
from mmstream.pipeline.build import build_pipeline
from mmstream.pipeline.outcomes import Outcome, output_failed
from mmstream.pipeline.work import Source
from mmstream.plugin.extractors import in_media_lane, media_modalities
from mmstream.plugin.manager import extend_worker, get_plugin_manager, register_extractors
from mmstream.schemas.http import register_schema_routes
from mmstream.settings import Settings


def encode(outcome: Outcome) -> tuple[bytes | None, bytes]:
    key = outcome.key.encode() if outcome.key else None
    return key, outcome.data


def leave_out_media_plugins(pm: Any, settings: Settings) -> frozenset[str]:
    """For a text-role worker: the post keys of media-lane extractors (routed, never read here), and
    their plugins blocked before any of their models load (as ``MMSTREAM_PLUGINS_DISABLED`` does)."""
    from mmstream.plugin.manager import call_hook

    also = media_plugins(settings)
    keys = media_modalities(register_extractors(pm, settings), also)  # extractors built, not loaded
    for plugin, extractor in call_hook(pm, "register_extractors", settings=settings):
        if in_media_lane(extractor, also):
            pm.set_blocked(plugin)
    return keys


def create_app(settings: Settings, pm: Any = None) -> faust.App:
    """Build a Faust app and its pipeline (``build_pipeline`` with the app's worker context: the
    plugins' worker-mode enrichers and sinks), then let plugins add agents and pages through that
    context (:class:`~mmstream.worker.context.FaustContext`, ``app.mmstream_context``). Nothing
    runs until a worker starts it; the pipeline is ``app.mmstream_pipeline``. The role
    (``settings.lanes``) says which lanes run: the text lane's agent, the media lane's consumer."""
    from mmstream.web.bind import check_exposure

    check_exposure(settings.web_host, settings.web_token, settings.web_insecure)  # before any model loads
    set_fetch_max_wait(int(settings.fetch_max_wait * 1000))
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=faust_credentials(settings),
        broker_session_timeout=settings.broker_session_timeout,
        producer_enable_idempotence=False,
        producer_linger=settings.producer_linger,
        producer_max_batch_size=settings.producer_max_batch_bytes,
        store="memory://",
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        # the topics Faust makes itself (its assignor's leader topic) as mmstream's own: survive a broker's loss
        **({"topic_replication_factor": settings.replication_factor} if settings.replication_factor > 0 else {}),
        # Faust binds its web server to web_bind (its default 0.0.0.0, F_WEB_BIND); web_host only names URLs
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        key_serializer="raw",
        value_serializer="raw",
    )
    role = parse_role(settings.lanes)
    lanes = ROLES[role]
    posts = app.topic(settings.topic("posts"), partitions=settings.partitions)
    media_topic = settings.topic("media")
    enriched = app.topic(settings.topic("enriched"), partitions=settings.partitions)
    dead_letters = app.topic(settings.topic("dead-letter"), partitions=settings.partitions)
    # decoding and validation (JSON, images) run in their own thread, so batch N+1 is prepared
    # while the model thread works on batch N; the model thread keeps the encoders fed
    prepare_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-prepare")
    # two batches' extraction at once (the one being finished and the next), then one thread that
    # fuses, enriches and writes the sinks batch after batch, in the order the batches came
    extract_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mmstream-batch")
    model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-model")
    stats = {"batches": 0, "results": 0, "dead_letters": 0, "routed": 0, "last_batch_at": None,
             "started_at": time.time()}

    pm = pm if pm is not None else get_plugin_manager(settings)
    routed_keys = leave_out_media_plugins(pm, settings) if role == "text" else frozenset()
    # the one way plugins and core's pages add routes, agents, tasks and timers to this worker
    context = app.mmstream_context = FaustContext(app, settings)
    pipeline = app.mmstream_pipeline = build_pipeline(settings, pm, context=context)
    if role == "all":
        routed_keys = media_modalities(pipeline.extractors, media_plugins(settings))
    router = MediaRouter(routed_keys, settings.max_payload_bytes) if routed_keys else None
    app.mmstream_role = role
    secure_web_server(app.web.web_app, settings)  # token and headers on every page (the dashboard: the analytics plugin)

    metrics = install_observability(context, settings, pipeline, posts.get_topic_name())  # /metrics, /ready
    lane_stats = app.mmstream_lanes = LaneStats(metrics.registry, role, sorted(lanes & {"text", "media"}) or ["text"])
    in_text_lane = [0]  # posts taken from the posts topic and not yet delivered

    stages = InOrder()  # batch N+1's extraction overlaps batch N's; batches are finished in order

    async def run_model(events: Sequence[Any]) -> list[Outcome]:
        in_text_lane[0] += len(events)
        routed = router.split(events) if router is not None else [None] * len(events)
        if not any(routed):
            return await run_pipeline(events)
        rest = [e for e, r in zip(events, routed) if r is None]
        done = iter(await run_pipeline(rest) if rest else [])
        return [r if r is not None else next(done) for r in routed]

    async def run_pipeline(events: Sequence[Any]) -> list[Outcome]:
        items = [(e.message.value, Source(e.message.topic, e.message.partition, e.message.offset, e.message.timestamp)) for e in events]
        loop = asyncio.get_running_loop()

        async def extract() -> Any:
            work = await loop.run_in_executor(prepare_thread, pipeline.prepare, items)
            return await loop.run_in_executor(extract_threads, pipeline.extract, work)

        return await stages.run(extract, lambda extracted: loop.run_in_executor(model_thread, pipeline.finish, extracted))

    targets = {"result": enriched.get_topic_name(), "dead_letter": dead_letters.get_topic_name(), ROUTE: media_topic}
    counted = {"result": "results", "dead_letter": "dead_letters", ROUTE: "routed"}
    # MMSTREAM_PROCESSING_GUARANTEE=exactly_once: a batch's outcomes and offsets in one transaction
    transactional = TransactionalDelivery(
        settings, posts.get_topic_name(), settings.app_id, targets,
        lambda outcome, error: output_failed(outcome, error).data,
        owns=lambda p: any(tp.topic == posts.get_topic_name() and tp.partition == p
                           for tp in app.consumer.assignment())) if exactly_once(settings) else None
    app.mmstream_transactions = transactional

    async def deliver(events: Sequence[Any], outcomes: list[Outcome]) -> None:
        """Send every outcome and wait until the broker has them all: only then are
        the batch's offsets acked (by :func:`overlapped_batches`). Straight to the
        producer (already-encoded bytes): ``Topic.send``'s channel machinery cost
        about a third of the event loop's time per record."""
        began = time.perf_counter()
        if transactional is not None:
            hand_commits_to_transactions(app.consumer, posts.get_topic_name())
            await transactional.deliver(events, outcomes, encode)
            for outcome in outcomes:
                stats[counted[outcome.kind]] += 1
        else:
            await send_outcomes(outcomes)
        for sink in pipeline.sinks:  # e.g. the mentions: delivered before the batch is acked
            await sink.delivered()
        routed = sum(1 for o in outcomes if o.kind == ROUTE)
        metrics.batch_delivered(events, [o for o in outcomes if o.kind != ROUTE] if routed else outcomes,
                                time.perf_counter() - began)  # once per batch
        if routed:
            lane_stats.routed.inc(routed)
        in_text_lane[0] -= len(events)
        lane_stats.processing.labels("text").observe(time.perf_counter() - began)
        now = time.time()
        for event, outcome in zip(events, outcomes):
            if outcome.kind != ROUTE and event.message.timestamp:
                lane_stats.result_lag.labels("text").observe(max(0.0, now - event.message.timestamp))
        stats["batches"] += 1
        stats["last_batch_at"] = time.time()

    async def send_outcomes(outcomes: Sequence[Outcome]) -> None:
        """Produce every outcome and wait until the broker has them all (a refused one: a small dead letter)."""
        producer = await app.maybe_start_producer()
        pending = []
        for outcome in outcomes:
            key, value = encode(outcome)
            try:
                pending.append((outcome, await producer.send(targets[outcome.kind], key, value, None,
                                                             getattr(outcome, "timestamp", None),
                                                             getattr(outcome, "headers", None))))
            except Exception as error:  # noqa: BLE001 - refused before sending (over max_request_size ...)
                await _output_failed(outcome, error)
                continue
            stats[counted[outcome.kind]] += 1
        for (outcome, _), error in zip(pending, await asyncio.gather(*(d for _, d in pending),
                                                                      return_exceptions=True)):
            if isinstance(error, BaseException):
                await _output_failed(outcome, error)

    async def media_delivered(outcomes: Sequence[Outcome]) -> None:
        for sink in pipeline.sinks:
            await sink.delivered()
        for outcome in outcomes:
            if outcome.kind == "result":
                metrics.results.inc()
            else:
                metrics.dead_letters.labels(metrics._reason(outcome.record.get("reason")),
                                            metrics._stage(outcome.record.get("stage"))).inc()
        stats["media_posts"] = stats.get("media_posts", 0) + 1

    if lanes & {"text", "inline"}:
        lane_stats.queued["text"] = lambda: in_text_lane[0]
        lane_stats.lag["text"] = lambda: text_lag(app, metrics, posts.get_topic_name())

        @app.agent(posts, name="enrich")
        async def enrich(stream: faust.Stream) -> None:
            # batch N+1 goes to the model while batch N is being delivered
            await overlapped_batches(stream, settings.batch_size, settings.batch_within, run_model, deliver)

    if "media" in lanes:
        install_lane(app, settings, pipeline, model_thread, lane_stats, metrics, targets, send_outcomes,
                     media_delivered, encode)

    async def _output_failed(outcome: Outcome, error: BaseException) -> None:
        """An outcome Kafka refused (e.g. over the broker's record size): a small dead
        letter says so; if even that fails, the agent raises (the batch is retried)."""
        stats["output_failures"] = stats.get("output_failures", 0) + 1
        metrics.output_failed(outcome)
        await (await dead_letters.send(key=outcome.key.encode() if outcome.key else None,
                                       value=output_failed(outcome, error).data))

    register_schema_routes(context, settings)  # GET /schemas, /schemas/<topic>, /asyncapi

    if role == "media":  # no posts partitions here: ready once the media group gave this worker partitions
        metrics.readiness.replace_checks["assignment"] = media_assignment_check(app.mmstream_media_lane, [False])

    async def health(web: Any, request: Any) -> Any:
        assigned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == posts.get_topic_name())
        return web.json({"status": "ok", "model": pipeline.model.name, "assigned_partitions": assigned, "lanes": role,
                         **stats})

    context.add_route("/health", health)
    extend_worker(pm, context, settings, pipeline)  # the plugins' agents, tasks and pages (the analytics' too)

    return app


def install_lane(app: Any, settings: Settings, pipeline: Any, model_thread: Any, lane_stats: LaneStats, metrics: Any,
                 targets: dict[str, str], send_outcomes: Any, delivered: Any, encode_outcome: Any) -> None:
    """The media lane of this worker (``app.mmstream_media_lane``), at-least-once or in transactions."""
    from types import SimpleNamespace

    from mmstream.lanes.install import install_media_lane

    async def send(outcomes: list[Outcome]) -> None:
        await send_outcomes(outcomes)
        await delivered(outcomes)

    transactional = None
    if exactly_once(settings):
        holder: dict[str, Any] = {}
        txn = TransactionalDelivery(
            settings, settings.topic("media"), media_group(settings.app_id), targets,
            lambda outcome, error: output_failed(outcome, error).data,
            owns=lambda p: any(tp.partition == p for tp in holder["lane"].consumer.assignment()))

        async def deliver_in_transaction(events: Any, outcomes: list[Outcome], encode: Any) -> None:
            await txn.deliver(events, outcomes, encode)
            await delivered(outcomes)

        transactional = SimpleNamespace(deliver=deliver_in_transaction, stop=txn.stop)
    lane = install_media_lane(app, settings, pipeline, model_thread, lane_stats, send, transactional, encode_outcome)
    if transactional is not None:
        holder["lane"] = lane
    app.mmstream_media_lane = lane
