"""One partition's copy state: the duplicate index and the campaign tracker, fed together.

Pure (no I/O): the pipeline's :class:`~mmstream.analytics.pipeline.copies.CopyFinder` holds one per
partition of ``<prefix>posts`` and checkpoints it (:mod:`mmstream.analytics.state.copies`).
"""
from __future__ import annotations

from mmstream.analytics.engine.campaigns import CampaignConfig, CampaignTracker
from mmstream.analytics.engine.duplicates import DuplicateConfig, DuplicateIndex
from mmstream.analytics.engine.signature import is_retweet


class CopyState:
    """One partition's duplicate index and campaign tracker."""

    def __init__(self, duplicates: DuplicateConfig, campaigns: CampaignConfig) -> None:
        self.index = DuplicateIndex(duplicates)
        self.tracker = CampaignTracker(campaigns)
        self.since_checkpoint = 0

    def observe(self, post_id: str, t_ms: int, text: str, author: str | None,
                images: list[int] | tuple[int, ...] = ()) -> tuple[str | None, dict | None]:
        retweet = is_retweet(text)
        replay = post_id in self.index.entries
        match = self.index.observe(post_id, t_ms, text, None if retweet else author, images)
        if replay:  # the answers it got the first time
            return match.duplicate_of, self.tracker.answers.get(post_id)
        self.since_checkpoint += 1
        root = self.index.entries.get(match.root) if match.root is not None else None
        campaign = self.tracker.observe(post_id, t_ms, match.root, author, retweet,
                                        root[0] if root is not None else None, root[3] if root is not None else None)
        return match.duplicate_of, campaign
