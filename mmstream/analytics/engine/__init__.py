"""The analytics engine, pure: mentions in, records out; no Kafka, no Faust, no clock, no files.

* :mod:`~mmstream.analytics.engine.events`: the mention record and its encoding on ``<prefix>mentions``;
* :mod:`~mmstream.analytics.engine.routing`: which engine partition gets which mention;
* :mod:`~mmstream.analytics.engine.windows`: window definitions and the pure aggregation math;
  :mod:`~mmstream.analytics.engine.aggregator` their execution (watermark: :mod:`~mmstream.analytics.engine.watermark`);
* :mod:`~mmstream.analytics.engine.topics`: the online topic miner (:mod:`~mmstream.analytics.engine.keywords`
  for its words, :mod:`~mmstream.analytics.engine.topicspace` for what it shares with the workers);
* :mod:`~mmstream.analytics.engine.alerts`: the spike detector;
* :mod:`~mmstream.analytics.engine.core`: all of the above for one partition, deterministic, replayable;
* :mod:`~mmstream.analytics.engine.share`: the share-of-voice stage over every partition's closed windows;
* :mod:`~mmstream.analytics.engine.brands`: the brand catalogue and matching;
* :mod:`~mmstream.analytics.engine.duplicates`, :mod:`~mmstream.analytics.engine.campaigns`
  (:mod:`~mmstream.analytics.engine.signature`), :mod:`~mmstream.analytics.engine.copystate`: near copies
  and coordinated campaigns.

The same input in the same order gives the same state and outputs: that is what lets a worker
rebuild an engine from the log or a checkpoint (:mod:`mmstream.analytics.state`). This ``__init__``
imports nothing.
"""
