"""Brand analytics on top of the enrichment pipeline (README: "Brand analytics", "HTTP API"), in four
layers, each importing only the ones before it (``tests/unit/analytics/test_layers.py``):

* :mod:`~mmstream.analytics.engine`, pure (no Kafka, no Faust, no clock, no files): the mention
  record and its routing to engine partitions, windows and their aggregation, the watermark, the
  topic miner, the spike detector, brand matching, near duplicates and campaigns, the share-of-voice
  stage, and :mod:`~mmstream.analytics.engine.core`, one partition's engine: deterministic, replayable.
  The engines run one per partition of the ``mentions`` log (``MMSTREAM_ANALYTICS_PARTITIONS``,
  default 4; each on one worker at a time; topic mining on partition 0).
* :mod:`~mmstream.analytics.state`: the saved state, a versioned, checksummed checkpoint format whose
  objects carry public type tags.
* :mod:`~mmstream.analytics.serving`: what HTTP queries read (the query store) and the JSON API;
  the dashboard on top of it is :mod:`mmstream.web`.
* :mod:`~mmstream.analytics.pipeline`: the analytics in the pipeline and the worker: the enrichers
  (brands, topics, duplicates; in ``mmstream score`` too), the mention publisher, the engines' agents
  and replays, the feed that reads the outputs back, and :mod:`~mmstream.analytics.pipeline.service`,
  one worker's analytics put together.

All of it reaches the pipeline and the worker as a built-in plugin, :mod:`~mmstream.analytics.plugin`
(enrichers, the mention publisher as a sink, the agents, the JSON API and the dashboard through
``extend_worker`` and the worker context), registered through the same hooks as any other plugin.
This ``__init__`` imports nothing, so ``mmstream score`` uses the brand matcher and topic assigner
without loading Faust or a Kafka client.
"""
