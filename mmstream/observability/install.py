"""Wiring observability into a worker:
``install_observability(context, settings, pipeline, posts_topic)``
adds ``GET /metrics`` (Prometheus text format) and ``GET /ready`` to the
worker's web server (``context.add_route``) and hands back the :class:`WorkerMetrics` the agent calls
once per batch. The pipeline reports its stage timings through
``pipeline.on_stage``.
"""
from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mmstream.observability.collector import WorkerCollector
from mmstream.observability.logs import worker_id
from mmstream.observability.metrics import WorkerMetrics
from mmstream.observability.ready import Readiness


def configured_brands(pipeline: Any) -> list[str]:
    """Brand ids of the brands file (the only brand label values metrics use)."""
    for enricher in getattr(pipeline, "enrichers", ()):
        catalog = getattr(enricher, "catalog", None)
        brands = getattr(catalog, "brands", None)
        if brands:
            return [getattr(b, "id", b) for b in (brands.values() if isinstance(brands, dict) else brands)]
    return []


def install_observability(context: Any, settings: Any, pipeline: Any, posts_topic: str,
                          analytics: Any = None) -> WorkerMetrics:
    """``analytics``: the worker's :class:`mmstream.analytics.pipeline.service.Analytics`, else
    ``app.mmstream_analytics`` when asked (the analytics plugin sets it). The metrics read the
    consumer of the worker's Faust app (``context.faust_app``, core's own handle)."""
    app = context.faust_app
    metrics = WorkerMetrics(configured_brands(pipeline))
    readiness = Readiness(app, analytics, posts_topic)
    readiness.models_loaded = pipeline.model is not None  # the pipeline arrives loaded (build_pipeline)
    model = getattr(pipeline.model, "name", "")
    metrics.registry.register(WorkerCollector(app, metrics, readiness, posts_topic, worker_id(), model))
    if getattr(pipeline, "content_cache", None) is not None:  # mmstream_content_cache_* (hits, misses, hit ratio)
        from mmstream.pipeline.contentcache import collector

        metrics.registry.register(collector(pipeline.content_cache))
    pipeline.on_stage = metrics.observe_stage
    metrics.readiness = readiness

    async def scrape(web: Any, request: Any) -> Any:  # noqa: ARG001
        return web.bytes(generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def ready(web: Any, request: Any) -> Any:  # noqa: ARG001
        ok, checks = readiness.check()
        return web.json({"ready": ok, "checks": checks}, status=200 if ok else 503)

    context.add_route("/metrics", scrape, name="observability_metrics")
    context.add_route("/ready", ready, name="observability_ready")

    return metrics
