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
different partitions interleave.

**Checkpointed, with a journal.** In a worker, every post's inputs are appended to its partition's
journal (``<topic>-p<k>.journal``, flushed per post), which a checkpoint empties; a restarted worker
reads the checkpoint, then observes the journal's posts again, so a post replayed after a kill -9
gets the answer it got. A partition's state is written every
``MMSTREAM_DUPLICATE_CHECKPOINT_EVERY`` posts to ``<data_dir>/<app_id>-duplicates/<topic>-p<k>.ckpt``
(the analytics' data format, :mod:`mmstream.analytics.state`: never pickle; format 2, with public
type tags; a file of the format before them is still read), and every
partition's when the worker stops; it is read back when the partition is first seen after a
restart. Posts replayed from before the checkpoint get the answers they got (the index remembers
posts by id, the tracker the campaign posts' answers); a post from after it and before a crash is
compared against what the checkpoint held.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmstream.analytics.engine.campaigns import CampaignConfig
from mmstream.analytics.engine.copystate import CopyState
from mmstream.analytics.engine.duplicates import DuplicateConfig
from mmstream.analytics.engine.signature import dhash
from mmstream.analytics.state.codec import StateCodec, StateFormatError
from mmstream.analytics.state.files import CheckpointError, pack, unpack, write_aside
from mmstream.analytics.state.tags import COPIES_NAMES_V1, copies_codec
from mmstream.errors import ConfigError
from mmstream.plugin.stages import Enricher
from mmstream.timefmt import moment_ms

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.plugin import Item

log = logging.getLogger(__name__)
EXCLUDE = ("none", "campaigns", "duplicates")
SCOPES = ("partition", "worker")
WHOLE = -1  # the partition number of a worker-scope state (MMSTREAM_DUPLICATE_SCOPE=worker)
MAGIC = b"mmstream-duplicates-checkpoint\n"
FORMAT = 2  # 2: types by public tag; 1 (no "format" in the header): by class name, still read
#: formats read, and the table from the names each wrote to the tags (None: tags already)
READS: dict[int, dict[str, str] | None] = {2: None, 1: COPIES_NAMES_V1}


def exclude_mode(settings: Any) -> str:
    """MMSTREAM_CAMPAIGN_EXCLUDE, checked: none, campaigns or duplicates."""
    mode = str(settings.campaign_exclude or "none").strip().lower()
    if mode not in EXCLUDE:
        raise ConfigError(f"MMSTREAM_CAMPAIGN_EXCLUDE={settings.campaign_exclude!r} is not one of {', '.join(EXCLUDE)}")
    return mode


class CopyFinder(Enricher):
    name = "duplicates"

    def __init__(self, settings: Any, checkpoints: bool = False) -> None:
        self.duplicates = DuplicateConfig.from_settings(settings)
        self.campaigns = CampaignConfig.from_settings(settings)
        #: by (topic, partition) of the input record; (None, None) off Kafka
        self.states: dict[tuple[str | None, int | None], CopyState] = {}
        self.every = max(0, settings.duplicate_checkpoint_every) if checkpoints else 0
        self.directory = Path(settings.data_dir) / f"{settings.app_id}-duplicates"
        self.fingerprint = hashlib.sha256(repr((self.duplicates, self.campaigns)).encode()).hexdigest()[:16]
        self.codec = copies_codec()
        #: per (topic, partition): the open journal of the posts enriched since its last checkpoint
        self.journals: dict[tuple[str | None, int], Any] = {}
        self.lock = threading.Lock()  # the model thread enriches; a shutdown saves from the event loop
        exclude_mode(settings)  # refused at start-up, not at the first post
        self.scope = str(settings.duplicate_scope or "partition").strip().lower()
        if self.scope not in SCOPES:
            raise ConfigError(f"MMSTREAM_DUPLICATE_SCOPE={settings.duplicate_scope!r} is not one of "
                              f"{', '.join(SCOPES)}")

    def state(self, partition: int | None, topic: str | None = None) -> CopyState:
        key = (topic, partition)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = (self.restore(partition, topic) if self.every and partition is not None
                                        else CopyState(self.duplicates, self.campaigns))
        return state

    def restore(self, partition: int, topic: str | None = None) -> CopyState:
        """The partition's state as it was when its worker last wrote a result: the checkpoint, then the
        posts its journal holds (every post enriched since, in order), observed again. A worker killed
        with kill -9 leaves no last checkpoint; without the journal, the posts it read after the last one
        were forgotten and a replayed copy lost its ``duplicate_of``."""
        state = self.load(partition, topic) or CopyState(self.duplicates, self.campaigns)
        path = self.journal_path(partition, topic)
        replayed = 0
        if path.is_file():
            for line in path.read_bytes().splitlines():
                try:
                    post_id, t_ms, text, author, hashes = json.loads(line)
                except (ValueError, TypeError):  # a line cut short by the kill
                    continue
                state.observe(str(post_id), int(t_ms), str(text), author, [int(h) for h in hashes])
                replayed += 1
        if replayed:
            log.info("duplicates: partition %s of %s: %d posts read back from the journal", partition, topic, replayed)
        return state

    def journal_path(self, partition: int, topic: str | None = None) -> Path:
        return self.path(partition, topic).with_suffix(".journal")

    def _journal(self, partition: int, topic: str | None, entry: list) -> None:
        """Append one post's inputs to its partition's journal (flushed: a kill -9 of the process loses
        nothing written; a machine crash may lose the last writes, as the page cache does)."""
        handle = self.journals.get((topic, partition))
        if handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = self.journals[(topic, partition)] = open(self.journal_path(partition, topic), "ab")
        handle.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
        handle.flush()

    def enrich_item(self, item: Item) -> None:
        with self.lock:
            self._enrich(item)

    def _enrich(self, item: Item) -> None:
        assert item.record is not None and item.post is not None
        partition = item.source.partition if item.source is not None else None
        topic = item.source.topic if item.source is not None else None
        if partition is not None and self.scope == "worker":
            partition = WHOLE
        state = self.state(partition, topic)
        post = item.post
        text = "\n".join(item.texts().values())
        pictures = item.values.get("images")  # decoded images (the image plugin's validated value), if any
        hashes = [dhash(p) for p in pictures if hasattr(p, "convert")] if isinstance(pictures, list) else []
        t_ms = moment_ms(post.created_at)
        dup, campaign = state.observe(post.id, t_ms, text, post.author, hashes)
        item.add("duplicate_of", dup)
        item.add("campaign", campaign)
        if self.every and partition is not None:
            self._journal(partition, topic, [post.id, t_ms, text, post.author, hashes])
            if state.since_checkpoint >= self.every:
                self._save(partition, topic)

    def describe(self) -> dict:
        """Summed counters of the states here (for /metrics and tests)."""
        out = {"states": len(self.states), "kept": sum(len(s.index) for s in self.states.values()),
               "clusters": sum(len(s.tracker.clusters) for s in self.states.values())}
        for s in self.states.values():
            for k, v in {**s.index.stats, **s.tracker.stats}.items():
                out[k] = out.get(k, 0) + v
        return out

    # -- checkpoints ------------------------------------------------------------
    def path(self, partition: int, topic: str | None = None) -> Path:
        name = "all" if partition == WHOLE else f"p{partition}"
        return self.directory / (f"{topic}-{name}.ckpt" if topic else f"{name}.ckpt")

    def save(self, partition: int, topic: str | None = None) -> Path:
        with self.lock:
            return self._save(partition, topic)

    def save_all(self) -> list[Path]:
        """Every partition's state (a worker stopping: a replayed batch then gets the answers it got)."""
        with self.lock:
            return [self._save(p, t) for (t, p), state in list(self.states.items())
                    if p is not None and state.since_checkpoint]

    def _save(self, partition: int, topic: str | None = None) -> Path:
        state = self.states[(topic, partition)]
        state.since_checkpoint = 0
        target = self.path(partition, topic)
        write_aside(target, pack(MAGIC, {"format": FORMAT, "fingerprint": self.fingerprint}, self.codec.dumps(state)),
                    sync=False)
        # the checkpoint holds the journal's posts now: start it again (a crash before this line only
        # replays them on the checkpoint, where they are known and change nothing)
        handle = self.journals.pop((topic, partition), None)
        if handle is not None:
            handle.close()
        self.journal_path(partition, topic).write_bytes(b"")
        return target

    def load(self, partition: int, topic: str | None = None) -> CopyState | None:
        path = self.path(partition, topic)
        if not path.is_file():
            return None
        try:
            header, state = read_copies(path.read_bytes(), self.codec)
            if header.get("fingerprint") != self.fingerprint:
                raise CheckpointError("was written under other duplicate or campaign settings")
            return state
        except (OSError, ValueError, StateFormatError) as exc:
            log.warning("duplicates: checkpoint %s ignored (%s); partition %s starts empty", path, exc, partition)
            return None


def read_copies(data: bytes, codec: StateCodec | None = None) -> tuple[dict, CopyState]:
    """(header, state) of a duplicates checkpoint's bytes, of any format this mmstream reads (the settings
    check is the caller's); :class:`CheckpointError` otherwise."""
    header, body = unpack(data, MAGIC, "a duplicates checkpoint")
    version = header.get("format", 1)
    if version not in READS:
        raise CheckpointError(f"is of format {version}, not {FORMAT}" + (
            ": written by a newer mmstream; run that version, or delete the file (the partition then starts empty)"
            if isinstance(version, int) and version > FORMAT else ""))
    try:
        state = (codec or copies_codec()).loads(body, READS[version])
    except StateFormatError as exc:
        raise CheckpointError(f"cannot be read ({exc})") from None
    if not isinstance(state, CopyState):
        raise CheckpointError("does not hold a duplicates state")
    return header, state
