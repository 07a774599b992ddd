"""Brand analytics on top of the enrichment pipeline (README: "Brand analytics", "HTTP API").

In the pipeline (every worker, and ``mmstream score``):

* :mod:`~mmstream.analytics.engine.brands`: brand matching in post text and OCR text (TOML config);
* :mod:`~mmstream.analytics.pipeline.assign`: fixed categories and mined topics into each result, and the
  mention publisher (worker only);
* :mod:`~mmstream.analytics.pipeline.copies`: ``duplicate_of`` and ``campaign`` into each result (the state:
  :mod:`~mmstream.analytics.engine.signature`, :mod:`~mmstream.analytics.engine.duplicates`, :mod:`~mmstream.analytics.engine.campaigns`).

The engines, one per partition of the ``mentions`` log (``MMSTREAM_ANALYTICS_PARTITIONS``, default 4;
each on one worker at a time; topic mining on partition 0):

* :mod:`~mmstream.analytics.engine.events`: the mention record;
* :mod:`~mmstream.analytics.engine.windows`: window definitions and the pure aggregation math;
  :mod:`~mmstream.analytics.engine.aggregator`: their execution (watermark, grace, late posts);
* :mod:`~mmstream.analytics.engine.topics`: the online topic miner (:mod:`~mmstream.analytics.engine.keywords`
  for its words, :mod:`~mmstream.analytics.engine.topicspace` for what it shares with the workers);
* :mod:`~mmstream.analytics.engine.alerts`: the spike detector (``coordinated`` alerts: :mod:`~mmstream.analytics.engine.campaigns`);
* :mod:`~mmstream.analytics.engine.core`: all of the above, deterministic, replayable.

Around them, in the worker: :mod:`~mmstream.analytics.pipeline.feed` (output topics read back),
:mod:`~mmstream.analytics.serving.store` (what queries read), :mod:`~mmstream.analytics.serving.http` (the pages)
and :mod:`~mmstream.analytics.pipeline.service` (``analytics_for`` and ``install_engine``: the Faust wiring).

All of it reaches the pipeline and the worker as a built-in plugin, :mod:`~mmstream.analytics.plugin`
(enrichers, the mention publisher as a sink, the engine through ``extend_worker``), registered through
the same hooks as any other plugin. This ``__init__`` imports nothing, so ``mmstream score`` uses the
brand matcher and topic assigner without loading Faust or a Kafka client.
"""
