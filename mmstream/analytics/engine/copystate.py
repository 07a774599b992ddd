"""One partition's copy state: the duplicate index and the campaign tracker, fed together.

Pure (no I/O): the pipeline's :class:`~mmstream.analytics.pipeline.copies.CopyFinder` holds one per
partition of ``<prefix>posts`` and checkpoints it (:mod:`mmstream.analytics.state.copies`).

**Cluster scope** (``MMSTREAM_DUPLICATE_SCOPE=cluster``): one state per worker, fed with the posts it
answers (:meth:`CopyState.observe`) and with every worker's, read back from ``<prefix>copies``
(:meth:`CopyState.ingest` of the :meth:`CopyState.entry` each worker wrote). An entry holds what the
post is compared by (content key, signature), its author, and the answers it got (root, campaign):
its root is kept as given, its author counts in its cluster's campaign, and when its content matches
a cluster of another root here, the two are merged under the earlier root (event time, then id): from
then on, every worker that has both entries answers with the same root and the same campaign id.
"""
from __future__ import annotations

import numpy as np

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

    # -- cluster scope ---------------------------------------------------------
    def entry(self, post_id: str, author: str | None, retweet: bool) -> dict | None:
        """What other workers need of a post this state answered (None: not kept, too short to compare)."""
        kept = self.index.entries.get(post_id)
        if kept is None:
            return None
        t_ms, root, key, _ = kept
        root_entry = self.index.entries.get(root)
        return {"id": post_id, "t": t_ms, "key": key, "sig": self.index.signatures[post_id].tolist(),
                "author": author, "rt": retweet, "root": root,
                "root_t": root_entry[0] if root_entry is not None else t_ms,
                "campaign": self.tracker.answers.get(post_id)}

    def ingest(self, entry: dict) -> bool:
        """Keep a post another worker (or this one, before a restart) answered; False when known already."""
        post_id, t_ms, root = str(entry["id"]), int(entry["t"]), str(entry["root"])
        retweet, author = bool(entry.get("rt")), entry.get("author")
        sig = np.asarray(entry["sig"], np.uint32)
        kept, local = self.index.ingest(post_id, t_ms, str(entry["key"]), sig, root, None if retweet else author)
        if not kept:
            return False
        self.since_checkpoint += 1
        mine = self.index.root(root)
        if local is not None and local != mine:  # one content, two roots: the earlier names the cluster
            earlier, later = sorted((local, mine), key=lambda r: (self._root_ms(r, entry), r))
            self.index.alias(later, earlier)
            self.tracker.merge(later, earlier)
            mine = earlier
            if mine == post_id and author and not retweet:  # this post is the merged cluster's root: it counts
                self.tracker._count(post_id, t_ms, author, t_ms, None, counted=False)
        root_entry = self.index.entries.get(mine)
        self.tracker.count(post_id, t_ms, mine, author, retweet, entry.get("campaign"),
                           root_entry[0] if root_entry is not None else None,
                           root_entry[3] if root_entry is not None else None)
        return True

    def _root_ms(self, root: str, entry: dict) -> int:
        kept = self.index.entries.get(root)
        if kept is not None:
            return kept[0]
        if root == entry["root"]:
            return int(entry.get("root_t", entry["t"]))
        cluster = self.tracker.clusters.get(root)
        return cluster.first_ms if cluster is not None else int(entry["t"])
