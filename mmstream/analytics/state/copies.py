"""The duplicates' saved state: per partition of ``<prefix>posts`` (``(topic, partition)``), a checkpoint
and a journal in ``<data_dir>/<app_id>-duplicates/`` (:class:`CopyStore`).

* the checkpoint ``<topic>-p<k>.ckpt`` (``<topic>-all.ckpt`` in worker scope, ``cluster.ckpt`` in cluster scope): the partition's
  :class:`~mmstream.analytics.engine.copystate.CopyState` in the analytics' file format
  (:mod:`mmstream.analytics.state.files`, types by tag: :data:`~mmstream.analytics.state.tags.COPIES`),
  format 2; a file of the format before the tags (no ``format`` in its header) is still read;
* the journal ``<topic>-p<k>.journal``: one JSON line per post enriched since that checkpoint (its
  inputs, flushed per post; in cluster scope its entry, answers included), emptied by the next checkpoint. :meth:`CopyStore.restore` reads the
  checkpoint, then observes the journal's posts again, so a post replayed after a kill -9 gets the
  answer it got.

A checkpoint written under other duplicate or campaign settings, damaged, or of a newer format is
ignored with a warning that says why; the partition then starts empty.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from mmstream.analytics.engine.campaigns import CampaignConfig
from mmstream.analytics.engine.copystate import CopyState
from mmstream.analytics.engine.duplicates import DuplicateConfig
from mmstream.analytics.state.codec import StateCodec, StateFormatError
from mmstream.analytics.state.files import CheckpointError, pack, unpack, write_aside
from mmstream.analytics.state.tags import COPIES_NAMES_V1, copies_codec

log = logging.getLogger(__name__)
WHOLE = -1  # the partition number of a worker-scope state (MMSTREAM_DUPLICATE_SCOPE=worker)
CLUSTER = -2  # of the cluster-scope state (MMSTREAM_DUPLICATE_SCOPE=cluster; its journal holds entries)
MAGIC = b"mmstream-duplicates-checkpoint\n"
FORMAT = 2  # 2: types by public tag; 1 (no "format" in the header): by class name, still read
#: formats read, and the table from the names each wrote to the tags (None: tags already)
READS: dict[int, dict[str, str] | None] = {2: None, 1: COPIES_NAMES_V1}


class CopyStore:
    """The duplicates checkpoints and journals of one worker's data directory."""

    def __init__(self, settings: Any, duplicates: DuplicateConfig, campaigns: CampaignConfig) -> None:
        self.duplicates, self.campaigns = duplicates, campaigns
        self.directory = Path(settings.data_dir) / f"{settings.app_id}-duplicates"
        self.fingerprint = hashlib.sha256(repr((duplicates, campaigns)).encode()).hexdigest()[:16]
        self.codec = copies_codec()
        #: per (topic, partition): the open journal of the posts enriched since its last checkpoint
        self.journals: dict[tuple[str | None, int], Any] = {}

    def path(self, partition: int, topic: str | None = None) -> Path:
        name = {WHOLE: "all", CLUSTER: "cluster"}.get(partition, f"p{partition}")
        return self.directory / (f"{topic}-{name}.ckpt" if topic else f"{name}.ckpt")

    def journal_path(self, partition: int, topic: str | None = None) -> Path:
        return self.path(partition, topic).with_suffix(".journal")

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
                    if partition == CLUSTER:  # the entries it answered (CopyState.entry), with their answers
                        state.ingest(json.loads(line))
                    else:
                        post_id, t_ms, text, author, hashes = json.loads(line)
                        state.observe(str(post_id), int(t_ms), str(text), author, [int(h) for h in hashes])
                except (ValueError, TypeError, KeyError):  # a line cut short by the kill
                    continue
                replayed += 1
        if replayed:
            log.info("duplicates: partition %s of %s: %d posts read back from the journal", partition, topic, replayed)
        return state

    def journal(self, partition: int, topic: str | None, entry: list) -> None:
        """Append one post's inputs to its partition's journal (flushed: a kill -9 of the process loses
        nothing written; a machine crash may lose the last writes, as the page cache does)."""
        handle = self.journals.get((topic, partition))
        if handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = self.journals[(topic, partition)] = open(self.journal_path(partition, topic), "ab")
        handle.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
        handle.flush()

    def save(self, state: CopyState, partition: int, topic: str | None = None) -> Path:
        """Write ``state`` as the partition's checkpoint and empty its journal."""
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
