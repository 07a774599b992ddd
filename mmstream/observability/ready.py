"""Readiness: ``GET /ready`` answers 200 once the worker can do its job, 503
(with what it waits for) before. ``GET /health`` stays the liveness probe.

Ready means all of:

* ``models``: the plugins' models and the fused model are loaded (the worker
  loads them before its web server starts, so this holds from the first answer);
* ``assignment``: the consumer group was joined and gave this worker at least
  one partition (of posts, or of the analytics' mentions: MMSTREAM_ANALYTICS_PARTITIONS of them). A worker of a
  group with more members than partitions stays unready: it has nothing to do.
  During a rebalance a worker that was ready stays ready (the group takes its
  partitions back for a moment only);
* ``analytics_feed``: the feed read the analytics outputs written before this
  worker started (topic ids it assigns are then the ones already announced).
"""
from __future__ import annotations

from typing import Any

from mmstream.observability.collector import assignment


class Readiness:
    def __init__(self, app: Any, analytics: Any, posts_topic: str) -> None:
        self.app, self._analytics, self.posts_topic = app, analytics, posts_topic
        self.models_loaded = False
        self._was_ready = False
        #: checks a worker's role answers its own way (a media-lane worker: its media partitions), by name
        self.replace_checks: dict[str, Any] = {}

    @property
    def analytics(self) -> Any:
        return self._analytics if self._analytics is not None else getattr(self.app, "mmstream_analytics", None)

    def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, checks): each check ``{"ok": bool, "detail": str}``."""
        tps = assignment(self.app)
        rebalancing = bool(getattr(self.app, "rebalancing", False))
        assigned = bool(tps) or (rebalancing and self._was_ready)
        posts = sorted(tp.partition for tp in tps if tp.topic == self.posts_topic)
        caught_up = getattr(getattr(self.analytics, "feed", None), "caught_up", None)  # a threading.Event
        feed = caught_up is None or caught_up.is_set()  # no analytics (or no feed): nothing to wait for
        checks = {
            "models": {"ok": self.models_loaded,
                       "detail": "loaded" if self.models_loaded else "loading the plugins' and the fused model"},
            "assignment": {"ok": assigned, "posts_partitions": posts,
                           "detail": ("rebalancing" if rebalancing else "joined, partitions assigned") if assigned
                           else "waiting for the consumer group to assign partitions (a group with more workers "
                                "than partitions of the posts topic leaves some idle)"},
            "analytics_feed": {"ok": feed, "detail": "caught up" if feed else
                               "reading the analytics outputs written before this worker started"},
        }
        checks.update({name: check() for name, check in self.replace_checks.items()})
        ready = all(c["ok"] for c in checks.values())
        self._was_ready = self._was_ready or ready
        return ready, checks
