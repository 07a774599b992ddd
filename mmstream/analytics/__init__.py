"""Brand analytics on top of the enrichment pipeline (README: "Brand analytics", "HTTP API").

In the pipeline (every worker, and ``mmstream score``):

* :mod:`~mmstream.analytics.brands`: brand matching in post text and OCR text (TOML config);
* :mod:`~mmstream.analytics.assign`: fixed categories and mined topics into each result, and the
  mention publisher (worker only);
* :mod:`~mmstream.analytics.copies`: ``duplicate_of`` and ``campaign`` into each result (the state:
  :mod:`~mmstream.analytics.signature`, :mod:`~mmstream.analytics.duplicates`, :mod:`~mmstream.analytics.campaigns`).

The engines, one per partition of the ``mentions`` log (``MMSTREAM_ANALYTICS_PARTITIONS``, default 4;
each on one worker at a time; topic mining on partition 0):

* :mod:`~mmstream.analytics.events`: the mention record;
* :mod:`~mmstream.analytics.windows`: window definitions and the pure aggregation math;
  :mod:`~mmstream.analytics.aggregator`: their execution (watermark, grace, late posts);
* :mod:`~mmstream.analytics.topics`: the online topic miner (:mod:`~mmstream.analytics.keywords`
  for its words, :mod:`~mmstream.analytics.topicspace` for what it shares with the workers);
* :mod:`~mmstream.analytics.alerts`: the spike detector (``coordinated`` alerts: :mod:`~mmstream.analytics.campaigns`);
* :mod:`~mmstream.analytics.engine`: all of the above, deterministic, replayable.

Around them, in the worker: :mod:`~mmstream.analytics.feed` (output topics read back),
:mod:`~mmstream.analytics.store` (what queries read), :mod:`~mmstream.analytics.http` (the pages)
and :mod:`~mmstream.analytics.service` (``analytics_for`` and ``install_engine``: the Faust wiring).

All of it reaches the pipeline and the worker as a built-in plugin, :mod:`~mmstream.analytics.plugin`
(enrichers, the mention publisher as a sink, the engine through ``extend_worker``), registered through
the same hooks as any other plugin. This ``__init__`` imports nothing, so ``mmstream score`` uses the
brand matcher and topic assigner without loading Faust or a Kafka client.
"""
