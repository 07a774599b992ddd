"""The pipeline enricher that fills each result's ``duplicate_of`` and ``campaign``.

Per post: its text (its own, then text read or heard in its media) and, when that is too short,
its images' difference hashes go through the
:class:`~mmstream.analytics.engine.duplicates.DuplicateIndex` (``duplicate_of``), then the
:class:`~mmstream.analytics.engine.campaigns.CampaignTracker` (``campaign``).

**Partitioned.** Off Kafka (``mmstream score``) one state follows the whole input, in order.
In a worker there is one state per partition of ``<prefix>posts`` (the unit a worker owns and
replays; the media lane's ``<prefix>media`` partitions have their own), so a partition's answers
depend on that partition's log alone, whichever worker reads it: a producer that keys posts by
conversation, thread or brand keeps copies together.
Copies on two different partitions are not linked, unless ``MMSTREAM_DUPLICATE_SCOPE=worker``: one
state for every partition the worker holds (checkpoint ``<topic>-all.ckpt``), which links them when
one worker holds both, at the price of answers that depend on the assignment and on how batches of
different partitions interleave; or ``MMSTREAM_DUPLICATE_SCOPE=cluster``
(:mod:`mmstream.analytics.pipeline.copyindex`): one state per worker, fed with the posts it answers
and with every worker's entries, read back from ``<prefix>copies``, so copies are linked and
campaigns counted across partitions and workers, up to the index's propagation delay (two copies
answered within it on different workers may both be originals; their clusters are merged under the
earlier root when the entries meet, and later posts get that root and its campaign id everywhere).

**Checkpointed, with a journal** (:mod:`mmstream.analytics.state.copies`). In a worker, every post's
inputs are appended to its partition's journal, which a checkpoint empties; a restarted worker
reads the checkpoint, then observes the journal's posts again, so a post replayed after a kill -9
gets the answer it got. A partition's state is written every ``MMSTREAM_DUPLICATE_CHECKPOINT_EVERY``
posts, and every partition's when the worker stops; it is read back when the partition is first
seen after a restart. Posts replayed from before the checkpoint get the answers they got (the index remembers
posts by id, the tracker the campaign posts' answers); a post from after it and before a crash is
compared against what the checkpoint held. In cluster scope the worker's one state is ``cluster.ckpt``
and its journal holds the entries of the posts it answered, answers included (read back with
:meth:`~mmstream.analytics.engine.copystate.CopyState.ingest`, so a replay gets them whatever the index
holds now); every worker needs a data directory of its own (deploy/k8s gives each pod a volume). Its
first post waits (at most ``CATCH_UP_WAIT``) until ``<prefix>copies`` was read back.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmstream.analytics.engine.campaigns import CampaignConfig
from mmstream.analytics.engine.copystate import CopyState
from mmstream.analytics.engine.duplicates import DuplicateConfig
from mmstream.analytics.engine.signature import dhash
from mmstream.analytics.engine.signature import is_retweet
from mmstream.analytics.state.copies import CLUSTER, WHOLE, CopyStore
from mmstream.errors import ConfigError
from mmstream.plugin.stages import Enricher
from mmstream.timefmt import moment_ms

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.plugin import Item

log = logging.getLogger(__name__)
EXCLUDE = ("none", "campaigns", "duplicates")
CATCH_UP_WAIT = 60.0  # cluster scope: how long a worker's first post waits for <prefix>copies to be read back
SCOPES = ("partition", "worker", "cluster")


def exclude_mode(settings: Any) -> str:
    """MMSTREAM_CAMPAIGN_EXCLUDE, checked: none, campaigns or duplicates."""
    mode = str(settings.campaign_exclude or "none").strip().lower()
    if mode not in EXCLUDE:
        raise ConfigError(f"MMSTREAM_CAMPAIGN_EXCLUDE={settings.campaign_exclude!r} is not one of {', '.join(EXCLUDE)}")
    return mode


def own_pictures(item: "Item") -> list:
    """The decoded pictures the post itself carries: each of its own values (as its plugin's ``validate``
    returned it) that is a list of images, whichever plugin reads it. Not ``item.values``: there a
    derived value may stand in its key's place (a video's keyframes, already encoded), and a copy is
    found from what the post sent."""
    post = item.post
    own = post.modalities.values() if post is not None else ()
    return [p for value in own if isinstance(value, list) for p in value if hasattr(p, "convert")]


class CopyFinder(Enricher):
    name = "duplicates"

    def __init__(self, settings: Any, checkpoints: bool = False) -> None:
        self.duplicates = DuplicateConfig.from_settings(settings)
        self.campaigns = CampaignConfig.from_settings(settings)
        #: by (topic, partition) of the input record; (None, None) off Kafka
        self.states: dict[tuple[str | None, int | None], CopyState] = {}
        self.every = max(0, settings.duplicate_checkpoint_every) if checkpoints else 0
        self.store = CopyStore(settings, self.duplicates, self.campaigns)  # checkpoints and journals
        self.lock = threading.Lock()  # the model thread enriches; a shutdown saves from the event loop
        exclude_mode(settings)  # refused at start-up, not at the first post
        self.scope = str(settings.duplicate_scope or "partition").strip().lower()
        if self.scope not in SCOPES:
            raise ConfigError(f"MMSTREAM_DUPLICATE_SCOPE={settings.duplicate_scope!r} is not one of "
                              f"{', '.join(SCOPES)}")
        #: cluster scope: the entries of posts answered here, not yet handed to the copies outbox
        self.outgoing: list[tuple[int, dict]] = []
        self.ingested = 0  # entries of other workers (and echoes of its own) kept
        self.tail: Any = None  # cluster scope in a worker: its CopyTail (mmstream.analytics.pipeline.copyindex)
        self.waited = False

    def state(self, partition: int | None, topic: str | None = None) -> CopyState:
        key = (topic, partition)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = (self.store.restore(partition, topic) if self.every and partition is not None
                                        else CopyState(self.duplicates, self.campaigns))
        return state

    def enrich_item(self, item: Item) -> None:
        tail = self.tail
        if tail is not None and not self.waited:  # cluster scope: the first post waits for the index's read-back
            self.waited = True
            if not tail.caught_up.wait(CATCH_UP_WAIT):
                log.warning("duplicates: the copy index has not read <prefix>copies back within %.0f s; posts are "
                            "compared against what it read so far", CATCH_UP_WAIT)
        with self.lock:
            self._enrich(item)

    def _enrich(self, item: Item) -> None:
        assert item.record is not None and item.post is not None
        partition = item.source.partition if item.source is not None else None
        topic = item.source.topic if item.source is not None else None
        source = partition
        if partition is not None and self.scope == "worker":
            partition = WHOLE
        elif partition is not None and self.scope == "cluster":
            partition, topic = CLUSTER, None
        state = self.state(partition, topic)
        post = item.post
        text = "\n".join(item.texts().values())
        hashes = [dhash(p) for p in own_pictures(item)]
        t_ms = moment_ms(post.created_at)
        dup, campaign = state.observe(post.id, t_ms, text, post.author, hashes)
        item.add("duplicate_of", dup)
        item.add("campaign", campaign)
        if partition == CLUSTER:
            entry = state.entry(post.id, post.author, is_retweet(text))
            if entry is not None:
                entry["brands"] = list(item.record.get("brands") or [])
                self.outgoing.append((source or 0, entry))
                if self.every:
                    self.store.journal(partition, topic, entry)
                    if state.since_checkpoint >= self.every:
                        self._save(partition, topic)
            return
        if self.every and partition is not None:
            self.store.journal(partition, topic, [post.id, t_ms, text, post.author, hashes])
            if state.since_checkpoint >= self.every:
                self._save(partition, topic)

    # -- cluster scope (mmstream.analytics.pipeline.copyindex) ---------------------
    def take_outgoing(self) -> list[tuple[int, dict]]:
        """The entries answered since the last call, with their source partition (the copies sink sends them)."""
        with self.lock:
            out, self.outgoing = self.outgoing, []
            return out

    def ingest(self, entries: list[dict]) -> int:
        """Keep entries read from ``<prefix>copies`` (any worker's); how many were new here."""
        with self.lock:
            state = self.state(CLUSTER)
            new = 0
            for entry in entries:
                try:
                    new += state.ingest(entry)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:  # not an entry of this format
                    log.warning("duplicates: skipped a copies entry it cannot read (%r): %.200s", exc, entry)
            self.ingested += new
            if self.every and state.since_checkpoint >= self.every:
                self._save(CLUSTER)
            return new

    def describe(self) -> dict:
        """Summed counters of the states here (``/analytics/status``'s ``duplicates``, and tests)."""
        with self.lock:  # the model thread and the copy index's thread change the states
            states = list(self.states.values())
            out = {"scope": self.scope, "states": len(states), "kept": sum(len(s.index) for s in states),
                   "clusters": sum(len(s.tracker.clusters) for s in states), "ingested": self.ingested,
                   **({"index": self.tail.describe()} if self.tail is not None else {})}
            for s in states:
                for k, v in {**s.index.stats, **s.tracker.stats}.items():
                    out[k] = out.get(k, 0) + v
        return out

    # -- checkpoints (mmstream.analytics.state.copies) ----------------------------
    def save(self, partition: int, topic: str | None = None) -> Path:
        with self.lock:
            return self._save(partition, topic)

    def save_all(self) -> list[Path]:
        """Every partition's state (a worker stopping: a replayed batch then gets the answers it got)."""
        with self.lock:
            return [self._save(p, t) for (t, p), state in list(self.states.items())
                    if p is not None and state.since_checkpoint]

    def _save(self, partition: int, topic: str | None = None) -> Path:
        return self.store.save(self.states[(topic, partition)], partition, topic)
