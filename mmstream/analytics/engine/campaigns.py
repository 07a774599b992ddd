"""Coordinated campaigns: a cluster of near-duplicate posts (one root, :mod:`mmstream.analytics.engine.duplicates`)
posted by many distinct accounts within a short time.

:class:`CampaignTracker` follows each cluster: the authors of its posts and when each last posted.
A post whose cluster counts ``min_authors`` distinct authors or more within the last ``window_ms``
of event time (the post's own included) belongs to a campaign, and so does every later post of
that cluster until the cluster is forgotten (``ttl_ms`` after its last post). The campaign's id is
derived from the cluster's root (``camp-`` and 12 hex digits of its BLAKE2b), so a replay names it
alike.

What counts: posts with an author (``author`` of the post; without one, accounts cannot be
told apart) that are not retweets (a text that starts ``RT @user:``): a viral post retweeted
by a thousand people is organic, a thousand accounts pasting one complaint is not. Retweets
still get their ``duplicate_of``.

Bounded: a cluster is forgotten ``ttl_ms`` after its last post (event time), at most
``max_clusters`` are followed (the least recently active go first), and at most
``max_authors`` authors per cluster (the least recent go first). Deterministic and idempotent
like the index: a post id seen again gets the answer it got first.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from mmstream.timefmt import ms_iso


@dataclass(frozen=True)
class CampaignConfig:
    min_authors: int = 8  # distinct accounts within window_ms
    window_ms: int = 1_800_000  # 30 minutes
    ttl_ms: int = 86_400_000
    max_clusters: int = 20_000
    max_authors: int = 2_000
    answers: int = 50_000  # campaign posts whose answer is remembered for replays

    @classmethod
    def from_settings(cls, s: Any) -> "CampaignConfig":
        return cls(max(2, s.campaign_min_authors), int(round(s.campaign_window * 1000)),
                   int(round(s.duplicate_ttl * 1000)), max(1, s.campaign_max_clusters))


def campaign_id(root: str) -> str:
    return "camp-" + hashlib.blake2b(root.encode("utf-8"), digest_size=6).hexdigest()


@dataclass
class Cluster:
    root: str
    first_ms: int  # event time of its first post
    last_ms: int  # of its latest
    posts: int  # posts counted (with an author, not retweets)
    authors: "OrderedDict[str, int]"  # author -> event time of their latest post, least recent first
    campaign: str | None = None  # its campaign's id, once it is one


class CampaignTracker:
    def __init__(self, config: CampaignConfig) -> None:
        self.config = config
        self.clusters: OrderedDict[str, Cluster] = OrderedDict()  # by root, least recently active first
        self.answers: OrderedDict[str, dict | None] = OrderedDict()  # post id -> its answer (replays)
        self.clock: int | None = None
        self.stats = {"campaign_posts": 0, "campaigns": 0}

    def observe(self, post_id: str, t_ms: int, root: str | None, author: str | None, retweet: bool,
                root_ms: int | None = None, root_author: str | None = None) -> dict | None:
        """The post's ``campaign`` field: None, or ``{id, posts, authors, first_seen}`` (the cluster's
        counts up to this post). ``root``: the cluster it joins (None: not compared; itself: not a copy);
        ``root_ms``, ``root_author``: the root's event time and author, while the index still knows them
        (a cluster is made at its second post, and counts its root). Only answers that are not None are
        remembered (a replay of another post is told apart by the index)."""
        if post_id in self.answers:
            return self.answers[post_id]
        self.clock = t_ms if self.clock is None else max(self.clock, t_ms)
        answer = None
        if root is not None and root != post_id and author and not retweet:
            answer = self._count(root, t_ms, author, t_ms if root_ms is None else root_ms, root_author)
        if answer is not None:
            self.answers[post_id] = answer
            if len(self.answers) > self.config.answers:
                self.answers.popitem(last=False)
        self._evict()
        return answer

    # -- cluster scope: posts answered by other workers (mmstream.analytics.engine.copystate) --------
    def count(self, post_id: str, t_ms: int, root: str, author: str | None, retweet: bool, answer: dict | None,
              root_ms: int | None = None, root_author: str | None = None) -> None:
        """Count another worker's post in its cluster (its authors count here too) and remember the answer
        it got there (``answer``: a replay of it here, after a rebalance, gets that answer)."""
        self.clock = t_ms if self.clock is None else max(self.clock, t_ms)
        if root != post_id and author and not retweet:
            self._count(root, t_ms, author, t_ms if root_ms is None else root_ms, root_author, counted=False)
        if answer is not None:
            self.answers[post_id] = answer
            if len(self.answers) > self.config.answers:
                self.answers.popitem(last=False)
        self._evict()

    def merge(self, later: str, earlier: str) -> None:
        """Two roots found to be one cluster: ``later``'s authors and posts join ``earlier``'s, and its
        campaign, if either is one, is named after ``earlier`` from now on."""
        gone = self.clusters.pop(later, None)
        if gone is None or later == earlier:
            return
        kept = self.clusters.get(earlier)
        if kept is None:
            gone.root = earlier
            self.clusters[earlier] = gone
            kept = gone
        else:
            kept.first_ms, kept.last_ms = min(kept.first_ms, gone.first_ms), max(kept.last_ms, gone.last_ms)
            kept.posts += gone.posts
            for author, seen in sorted({**gone.authors, **{a: max(s, gone.authors.get(a, s))
                                                           for a, s in kept.authors.items()}}.items(),
                                       key=lambda a: (a[1], a[0])):
                kept.authors.pop(author, None)
                kept.authors[author] = seen
            while len(kept.authors) > self.config.max_authors:
                kept.authors.popitem(last=False)
        if kept.campaign is not None or gone.campaign is not None:
            kept.campaign = campaign_id(earlier)

    def _count(self, root: str, t_ms: int, author: str, root_ms: int, root_author: str | None,
               counted: bool = True) -> dict | None:
        cfg = self.config
        cluster = self.clusters.get(root)
        if cluster is None:
            cluster = self.clusters[root] = Cluster(root, min(root_ms, t_ms), t_ms, 0, OrderedDict())
            if root_author:
                cluster.posts, cluster.authors[root_author] = 1, root_ms
        else:
            self.clusters.move_to_end(root)
        cluster.first_ms, cluster.last_ms = min(cluster.first_ms, t_ms), max(cluster.last_ms, t_ms)
        cluster.posts += 1
        cluster.authors.pop(author, None)
        cluster.authors[author] = t_ms
        while len(cluster.authors) > cfg.max_authors:
            cluster.authors.popitem(last=False)
        recent = sum(1 for seen in cluster.authors.values() if t_ms - cfg.window_ms <= seen <= t_ms)
        if recent < cfg.min_authors and cluster.campaign is None:
            return None
        if cluster.campaign is None:
            cluster.campaign = campaign_id(root)
            self.stats["campaigns"] += counted
        self.stats["campaign_posts"] += counted
        return {"id": cluster.campaign, "posts": cluster.posts, "authors": len(cluster.authors),
                "first_seen": ms_iso(cluster.first_ms)}

    def _evict(self) -> None:
        cfg = self.config
        while self.clusters:
            root, cluster = next(iter(self.clusters.items()))
            fresh = self.clock is None or cluster.last_ms >= self.clock - cfg.ttl_ms
            if len(self.clusters) <= cfg.max_clusters and fresh:
                return
            self.clusters.popitem(last=False)


#: characters of a campaign's first flagged post kept as its template in the alert
TEMPLATE_CHARS = 280


def coordinated_alert(mention: Any, sensitivity: dict) -> dict:
    """The ``coordinated`` alert for a campaign's first post the analytics engine sees (its mining
    copy: every brand, the text). Evidence: the template (that post's text), the accounts and posts
    counted so far, the time span since the cluster's first post, the brands."""
    from mmstream.timefmt import to_ms

    camp = mention.campaign
    first_ms, now_ms = to_ms(camp["first_seen"]), mention.t_ms
    template = " ".join(mention.text.split())[:TEMPLATE_CHARS]
    brands = sorted(set(mention.all_brands))
    return {
        "id": f"coordinated:campaign:{camp['id']}",
        "kind": "coordinated",
        "subject": {"type": "campaign", "id": camp["id"], "label": template[:80]},
        "window": {"start": camp["first_seen"], "end": ms_iso(now_ms)},
        "baseline": {"start": camp["first_seen"], "end": camp["first_seen"]},
        "figures": {"posts": int(camp["posts"]), "baseline_posts": 0, "expected_posts": 0.0, "ratio": None, "z": 0.0,
                    "accounts": int(camp["authors"]), "span_seconds": round(max(0, now_ms - first_ms) / 1000, 3)},
        "example_post_ids": [*([mention.duplicate_of] if mention.duplicate_of else []), mention.id],  # root first
        "sensitivity": sensitivity,
        "evidence": {"template": template, "accounts": int(camp["authors"]), "posts": int(camp["posts"]),
                     "first_seen": camp["first_seen"], "last_seen": ms_iso(now_ms),
                     "span_seconds": round(max(0, now_ms - first_ms) / 1000, 3), "brands": brands},
        "top_brands": [{"brand": b, "posts": 1} for b in brands],
    }
