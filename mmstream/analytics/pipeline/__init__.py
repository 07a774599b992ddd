"""The analytics on the pipeline's side, in every worker (and, for the enrichers, in ``mmstream score``).

* enrichers: :mod:`~mmstream.analytics.pipeline.brands` (brand matching),
  :mod:`~mmstream.analytics.pipeline.assign` (categories and mined topics),
  :mod:`~mmstream.analytics.pipeline.copies` (``duplicate_of`` and ``campaign``, checkpointed per partition);
* publishing: :mod:`~mmstream.analytics.pipeline.publish` (one mention per result to ``<prefix>mentions``,
  delivered before the batch is acknowledged);
* the engines in a worker: :mod:`~mmstream.analytics.pipeline.partitions` (the partitions held here),
  :mod:`~mmstream.analytics.pipeline.replay` (rebuilding one from a checkpoint and the log),
  :mod:`~mmstream.analytics.pipeline.agents` (the agents that feed them and send their outputs);
* :mod:`~mmstream.analytics.pipeline.feed`: the outputs read back into the topic snapshot and the query store;
* :mod:`~mmstream.analytics.pipeline.service`: one worker's analytics, put together.

This ``__init__`` imports nothing (``mmstream score`` loads no Faust nor Kafka client).
"""
