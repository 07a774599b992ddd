"""The public type tags of the analytics' saved state: which class each object of a checkpoint is.

A checkpoint names each object's type with a tag of this table, not with its class's module and
name: the tags are part of the file format (changing one is a new format version), the classes
behind them are not, so code can move (as it did into :mod:`mmstream.analytics.engine`) and private
helper classes (``watermark._Source``, ``alerts._Series``) stay private without breaking a file.

Two states are saved, each with its own codec:

* the engine of one ``<prefix>mentions`` partition (:data:`ENGINE`, :mod:`~mmstream.analytics.state.checkpoint`);
* the duplicate index and campaign tracker of one ``<prefix>posts`` partition (:data:`COPIES`,
  :mod:`~mmstream.analytics.state.copies`).

Files written before the tags (engine checkpoints of format 2, duplicates checkpoints without a
format) named ``module.Class`` as the classes then were: :data:`ENGINE_NAMES_V2` and
:data:`COPIES_NAMES_V1` map those names to tags, so such a file is still read, and gives the same
state, after an upgrade.
"""
from __future__ import annotations

from mmstream.analytics.engine import (aggregator, alerts, campaigns, copystate, core, duplicates, events, topics,
                                       topicspace, watermark, windows)
from mmstream.analytics.state.codec import StateCodec

#: tag -> class of every object an engine's state holds (besides plain data)
ENGINE: dict[str, type] = {
    "engine": core.AnalyticsEngine,
    "engine.recent_ids": core.RecentIds,
    "windows.aggregator": aggregator.WindowAggregator,
    "windows.watermarks": watermark.Watermarks,
    "windows.watermark_source": watermark._Source,
    "windows.spec": windows.WindowSpec,
    "windows.state": windows.WindowState,
    "windows.brand": windows.BrandAgg,
    "windows.topic": windows.TopicAgg,
    "mention.topic": events.TopicRef,
    "topics.miner": topics.OnlineTopicMiner,
    "topics.config": topics.MinerConfig,
    "topics.topic": topics.MinedTopic,
    "topics.outlier": topics._Outlier,
    "topics.space": topicspace.Space,
    "topics.rows": topicspace.Rows,
    "alerts.detector": alerts.SpikeDetector,
    "alerts.config": alerts.AlertConfig,
    "alerts.series": alerts._Series,
    "alerts.bucket": alerts._Bucket,
}

#: tag -> class of every object a partition's duplicates state holds
COPIES: dict[str, type] = {
    "copies.state": copystate.CopyState,
    "duplicates.index": duplicates.DuplicateIndex,
    "duplicates.config": duplicates.DuplicateConfig,
    "campaigns.tracker": campaigns.CampaignTracker,
    "campaigns.config": campaigns.CampaignConfig,
    "campaigns.cluster": campaigns.Cluster,
}

_OLD = "mmstream.analytics."
#: engine checkpoints of format 2 (mmstream before the tags): the class names they hold -> tags (frozen)
ENGINE_NAMES_V2: dict[str, str] = {_OLD + name: tag for name, tag in {
    "engine.AnalyticsEngine": "engine", "engine.RecentIds": "engine.recent_ids",
    "aggregator.WindowAggregator": "windows.aggregator", "watermark.Watermarks": "windows.watermarks",
    "watermark._Source": "windows.watermark_source", "windows.WindowSpec": "windows.spec",
    "windows.WindowState": "windows.state", "windows.BrandAgg": "windows.brand", "windows.TopicAgg": "windows.topic",
    "events.TopicRef": "mention.topic", "topics.OnlineTopicMiner": "topics.miner", "topics.MinerConfig": "topics.config",
    "topics.MinedTopic": "topics.topic", "topics._Outlier": "topics.outlier", "topicspace.Space": "topics.space",
    "topicspace.Rows": "topics.rows", "alerts.SpikeDetector": "alerts.detector", "alerts.AlertConfig": "alerts.config",
    "alerts._Series": "alerts.series", "alerts._Bucket": "alerts.bucket",
}.items()}

#: duplicates checkpoints without a format (before the tags): the class names they hold -> tags (frozen)
COPIES_NAMES_V1: dict[str, str] = {_OLD + name: tag for name, tag in {
    "copies.CopyState": "copies.state", "duplicates.DuplicateIndex": "duplicates.index",
    "duplicates.DuplicateConfig": "duplicates.config", "campaigns.CampaignTracker": "campaigns.tracker",
    "campaigns.CampaignConfig": "campaigns.config", "campaigns.Cluster": "campaigns.cluster",
}.items()}


def engine_codec() -> StateCodec:
    """The codec of an engine's state."""
    return StateCodec(ENGINE)


def copies_codec() -> StateCodec:
    """The codec of a partition's duplicates state."""
    return StateCodec(COPIES)
