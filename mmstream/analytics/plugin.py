"""The analytics' built-in plugin (``DEFAULT_PLUGINS`` in :mod:`mmstream.plugin.manager`),
registered through the same hooks as any third-party plugin.

* ``register_enrichers``: brand matching (when ``MMSTREAM_BRANDS_FILE`` is set), then topic
  assignment, then duplicates and campaigns (:mod:`mmstream.analytics.pipeline.copies`). In a
  worker (``context.mode == "worker"``) the assigner reads the mined topics from the feed's
  snapshot; offline (``score``, ``eval``, ``bench``) it runs its own miner over the posts, in order.
* ``register_sinks``: in a worker, the mention publisher (one mention per result to
  ``<prefix>mentions``, delivered before the batch is acknowledged).
* ``extend_worker``: the engines' agents, the feed, the JSON API and the dashboard
  (:mod:`mmstream.web`), all through the worker context: the analytics' UI comes with the analytics.

Nothing here imports Faust or a Kafka client until a worker asks for it.
"""
from __future__ import annotations

import logging
from typing import Any

from mmstream.plugin import hookimpl


@hookimpl
def register_enrichers(settings: Any, model: Any, context: Any) -> list:
    from mmstream.analytics.engine.brands import BrandCatalog
    from mmstream.analytics.pipeline.assign import TopicAssigner
    from mmstream.analytics.pipeline.brands import BrandMatcher
    from mmstream.analytics.pipeline.copies import CopyFinder

    assigner = TopicAssigner(settings, model.topic_labels, model.topic_threshold)
    if context.in_worker:
        from mmstream.analytics.pipeline.service import analytics_for

        analytics = analytics_for(context, settings)
        assigner.use_snapshot(analytics.snapshot, analytics.feed.caught_up)
        catalog = analytics.catalog
    else:
        catalog = BrandCatalog.load(settings.brands_file) if settings.brands_file else None
    # duplicate_of and campaign: one state per partition of <prefix>posts in a worker (checkpointed), one off Kafka
    finder = CopyFinder(settings, checkpoints=context.in_worker)
    if context.in_worker:
        analytics.duplicates = finder  # /analytics/status shows its state (in cluster scope: the copy index's delays)
    if context.in_worker and finder.every:
        async def save_duplicates() -> None:
            try:
                finder.save_all()
            except Exception as exc:  # noqa: BLE001 - a restart then remembers less, nothing else
                logging.getLogger(__name__).warning("duplicates: could not save the state at shutdown (%r)", exc)

        context.on_shutdown(save_duplicates)
    if context.in_worker and finder.scope == "cluster":
        from mmstream.analytics.pipeline.copyindex import install_copy_index

        install_copy_index(context, settings, finder)  # <prefix>copies: written and read back by every worker
    return ([BrandMatcher(catalog)] if catalog is not None else []) + [assigner, finder]


@hookimpl
def register_sinks(settings: Any, context: Any) -> list:
    if not context.in_worker:
        return []
    from mmstream.analytics.pipeline.service import analytics_for

    from mmstream.analytics.pipeline.copyindex import copies_sink

    return [analytics_for(context, settings).publisher, *copies_sink(context)]


@hookimpl
def extend_worker(context: Any, settings: Any) -> None:
    from mmstream.analytics.pipeline.agents import install_engine
    from mmstream.web import install_dashboard

    install_dashboard(context, settings, install_engine(context, settings))
