"""One worker's analytics, put together: :class:`Analytics` (one per worker context, :func:`analytics_for`),
called by the built-in plugin :mod:`mmstream.analytics.plugin` from its hooks. Its parts, each
with one job: the mention publisher and its outbox (:mod:`~mmstream.analytics.pipeline.publish`),
the engines and their replays (:mod:`~mmstream.analytics.pipeline.replay`), the feed
(:mod:`~mmstream.analytics.pipeline.feed`) and the query store (:mod:`~mmstream.analytics.serving.store`);
the agents that drive them are added by :mod:`~mmstream.analytics.pipeline.agents`.

Where things run
----------------
* **Every worker**, in its pipeline: brand matching and topic *assignment*
  (read-only snapshot of the mined topics), then the mention publisher, which
  writes the batch's mentions to ``<prefix>mentions``, partitioned by brand
  (:mod:`mmstream.analytics.engine.routing`: one mention per brand's partition, the
  mining copy to partition 0, a progress line to every partition) and waits for
  the broker before the batch's offsets are acked.
* **Engine partitions**, each on the worker the consumer group gives it: the agent
  ``analytics`` runs one engine per partition held (windows, alerts and statistics
  of its brands; topic mining on partition 0, so topic ids are one space) and
  writes ``<prefix>late``, ``<prefix>topics``, ``<prefix>alerts`` and its closed
  windows to ``<prefix>window-totals``.
* **One worker at a time**, the one holding ``<prefix>window-totals``: the agent
  ``share-of-voice`` (:mod:`mmstream.analytics.engine.share`) writes ``<prefix>brand-stats``
  once every engine partition is done with a window, share of voice exact.
* **Every worker**, in a thread: the feed reads topics, brand-stats and alerts
  back into the snapshot and the query store; the HTTP pages read those.

Restarts: :mod:`mmstream.analytics.pipeline.replay`. The logs must be kept: ``<prefix>mentions``
needs a retention covering the analytics' history.
"""
from __future__ import annotations

import weakref
from typing import Any, Awaitable, Callable

from mmstream.analytics.engine.brands import BrandCatalog
from mmstream.analytics.engine.topicspace import TopicSnapshot
from mmstream.analytics.pipeline.copies import exclude_mode
from mmstream.analytics.pipeline.feed import OutputFeed
from mmstream.analytics.pipeline.partitions import EngineGroup
from mmstream.analytics.pipeline.publish import MentionOutbox, MentionPublisher
from mmstream.analytics.pipeline.replay import EngineRunner
from mmstream.analytics.serving.store import QueryStore
from mmstream.errors import ConfigError
from mmstream.settings import Settings


class Analytics:
    """The analytics of one worker: its engine partitions, the share-of-voice stage
    (when it holds ``<prefix>window-totals``), feed, store, publisher, and their topics."""

    def __init__(self, context: Any, settings: Settings, catalog: BrandCatalog | None = None) -> None:
        self.context, self.settings = context, settings  # context: the worker's WorkerContext
        self.mentions_topic = settings.topic("mentions")
        self.totals_topic = settings.topic("window-totals")
        self.partitions = max(1, settings.analytics_partitions)
        self.runner = EngineRunner(settings)
        self.spec_names = [s.name for s in self.engine.specs]
        self.catalog = catalog
        self.store = QueryStore(catalog, settings.analytics_keep)
        self.snapshot = TopicSnapshot(settings.topic_assign)
        self.feed = OutputFeed(settings, self.snapshot, self.store)
        self.outbox = MentionOutbox(self.mentions_topic, context.submit, _producer(context), self._publish_failed)
        self.publisher = MentionPublisher(self.outbox.publish, self.outbox.delivered, self.partitions,
                                          exclude_mode(settings))
        self.mentions = context.topic("mentions", partitions=self.partitions)
        self.totals = context.topic("window-totals", partitions=1)
        self.duplicates: Any = None  # the worker's CopyFinder (the analytics plugin sets it): its state in describe()

    def _publish_failed(self) -> None:
        self.publisher.failed += 1

    # -- what the pages and metrics read of the engines ------------------------------
    @property
    def engine(self) -> EngineGroup:
        """What the pages call "the engine": every engine partition held here."""
        return self.runner.engine

    @property
    def replays(self) -> list[dict]:
        return self.runner.replays

    @property
    def replay_span(self) -> tuple[int, int] | None:
        return self.runner.replay_span

    @property
    def replay_position(self) -> int:
        return self.runner.replay_position

    def owns_engine(self) -> bool:
        """True when this worker holds at least one engine partition."""
        return bool(self.partitions_here())

    def partitions_here(self) -> list[int]:
        return self.context.assigned_partitions("mentions")

    def describe(self) -> dict:
        runner = self.runner
        return {"engine_here": self.owns_engine(), "engine_partitions": self.partitions_here(),
                "partitions": self.partitions, "engine": self.engine.describe(), "replays": self.replays[-5:],
                "share_stage": runner.stage.describe(),
                "feed": {"caught_up": self.feed.caught_up.is_set(), "records": self.feed.records},
                "checkpoints": {"every": self.settings.analytics_checkpoint_every,
                                "on_disk": {str(p): h.checkpoints.offsets() for p, h in sorted(self.engine.held.items())},
                                "saved": [s for h in self.engine.held.values() for s in h.checkpoints.saved[-3:]]},
                "snapshot_topics": len(self.snapshot), "mentions_failed": self.publisher.failed,
                "mentions_unreadable": runner.unreadable,
                "duplicates": self.duplicates.describe() if self.duplicates is not None else None}


#: one Analytics per worker context (the hooks ask for it in turn)
_BY_CONTEXT: "weakref.WeakKeyDictionary[Any, Analytics]" = weakref.WeakKeyDictionary()


def analytics_for(context: Any, settings: Settings) -> Analytics:
    """The analytics of the worker of ``context``, made on the first call: the mentions topic (its
    ``MMSTREAM_ANALYTICS_PARTITIONS`` partitions) and ``window-totals`` (one) checked (the
    worker created them at start, from the topic catalogue), the engines, the snapshot, the
    feed, the publisher."""
    analytics = _BY_CONTEXT.get(context)
    if analytics is None:
        partitions = max(1, settings.analytics_partitions)
        _check_partitions(settings, settings.topic("mentions"), partitions, "MMSTREAM_ANALYTICS_PARTITIONS")
        _check_partitions(settings, settings.topic("window-totals"), 1, None)
        catalog = BrandCatalog.load(settings.brands_file) if settings.brands_file else None
        analytics = _BY_CONTEXT[context] = Analytics(context, settings, catalog)
        # the worker's metrics and /ready find the analytics there (mmstream.observability.ready)
        context.faust_app.mmstream_analytics = analytics
    return analytics


def _producer(context: Any) -> Callable[[], Awaitable[Any]]:
    """The worker's producer, for the mention outbox. Not ``context.send``: that waits for each record's
    delivery before the next, where a batch's mention records must be queued in order (the progress line
    after the mentions it covers, on each partition) and then awaited together; one round trip per
    partition and batch in a row would lengthen every batch. The context has no such send yet."""
    return context.faust_app.maybe_start_producer


def _check_partitions(settings: Settings, topic: str, want: int, setting: str | None) -> None:
    """Refuse a topic whose partition count is not the one the analytics are set up for
    (brands would land on engines that do not expect them)."""
    from mmstream.kafka.clients import kafka_consumer

    consumer = kafka_consumer(settings, "mmstream-admin")
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
    finally:
        consumer.close()
    if partitions and len(partitions) != want:
        fix = f"set {setting}={len(partitions)}, or " if setting else ""
        raise ConfigError(f"{topic} has {len(partitions)} partitions; the analytics need {want}. {fix.capitalize()}"
                          f"delete it and let the worker create it with {want}.")
