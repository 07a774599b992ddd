"""The analytics' built-in plugin (``DEFAULT_PLUGINS`` in :mod:`mmstream.plugin.manager`),
registered through the same hooks as any third-party plugin.

* ``register_enrichers``: brand matching (when ``MMSTREAM_BRANDS_FILE`` is set), then topic
  assignment, then duplicates and campaigns (:mod:`mmstream.analytics.copies`). In a worker the assigner reads the mined topics from the feed's snapshot; off
  Kafka (``score``, ``eval``, ``bench``) it runs its own miner over the posts, in order.
* ``register_sinks``: in a worker, the mention publisher (one mention per result to
  ``<prefix>mentions``, delivered before the batch is acknowledged).
* ``extend_worker``: the engine's agent, the feed and the HTTP pages.

Nothing here imports Faust or a Kafka client until a worker asks for it.
"""
from __future__ import annotations

import logging
from typing import Any

from mmstream.plugin import hookimpl


@hookimpl
def register_enrichers(settings: Any, model: Any, app: Any) -> list:
    from mmstream.analytics.assign import TopicAssigner
    from mmstream.analytics.brands import BrandCatalog, BrandMatcher
    from mmstream.analytics.copies import CopyFinder

    assigner = TopicAssigner(settings, model.topic_labels, model.topic_threshold)
    if app is not None:
        from mmstream.analytics.service import analytics_for

        analytics = analytics_for(app, settings)
        assigner.use_snapshot(analytics.snapshot, analytics.feed.caught_up)
        catalog = analytics.catalog
    else:
        catalog = BrandCatalog.load(settings.brands_file) if settings.brands_file else None
    # duplicate_of and campaign: one state per partition of <prefix>posts in a worker (checkpointed), one off Kafka
    finder = CopyFinder(settings, checkpoints=app is not None)
    if app is not None and finder.every:
        @app.on_before_shutdown.connect
        async def save_duplicates(app: Any, **kwargs: Any) -> None:  # noqa: ARG001
            try:
                finder.save_all()
            except Exception as exc:  # noqa: BLE001 - a restart then remembers less, nothing else
                logging.getLogger(__name__).warning("duplicates: could not save the state at shutdown (%r)", exc)
    return ([BrandMatcher(catalog)] if catalog is not None else []) + [assigner, finder]


@hookimpl
def register_sinks(settings: Any, app: Any) -> list:
    if app is None:
        return []
    from mmstream.analytics.service import analytics_for

    return [analytics_for(app, settings).publisher]


@hookimpl
def extend_worker(app: Any, settings: Any) -> None:
    from mmstream.analytics.service import install_engine

    install_engine(app, settings)
