"""Checkpoints of the analytics engine, so that a restart replays only the
mentions written since the last one instead of the whole log.

The engine is deterministic: its state after the mentions at offsets ``[0, K)``
is a function of them. Every ``analytics_checkpoint_every`` mentions, the worker
that runs the engine writes that state together with K to
``<data_dir>/<app_id>-analytics/p<partition>/engine-<K>.ckpt`` (written aside, then renamed
into place; the newest ``analytics_checkpoint_keep`` are kept). A worker that
takes the engine over at committed offset C loads the newest checkpoint with
K <= C and replays ``[K, C)``. The outputs are the same as after a full replay
(``tests/unit/analytics/test_checkpoint.py``).

Checkpoints are data, never pickle (:mod:`mmstream.analytics.state.codec`: a data
dir on a shared volume must not be a way to run code). A file
(:mod:`mmstream.analytics.state.files`) is one line, ``mmstream-analytics-checkpoint``,
then one JSON line (format version, settings fingerprint, offset, SHA-256 and length
of the body), then the body: the engine's state as JSON whose objects carry public
type tags (:mod:`mmstream.analytics.state.tags`), zlib-compressed. They hold no
settings (so no credentials): the restoring worker's own are attached.

Versions: format 3 names types by tag; format 2 (mmstream before the tags) named
classes by module, and is still read (its names are mapped to the tags), so an upgrade
does not cost a replay of the whole log; format 1 was pickle, and is never read. A
checkpoint that is damaged (checksum), foreign (an old pickled one, any other file),
of a format this mmstream does not know (written by a newer one: the message says so)
or written under other engine settings (windows, topics, alerts, dedupe, topic prefix)
is skipped with a warning; a worker without a usable one (another host, a fresh data
directory) replays the whole log, as before.
"""
from __future__ import annotations

import hashlib
import logging
import pickle  # only to freeze a state in memory (snapshot); files are never pickles
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.state.codec import StateCodec, StateFormatError
from mmstream.analytics.state.files import CheckpointError, pack, unpack, write_aside
from mmstream.analytics.state.tags import ENGINE_NAMES_V2, engine_codec
from mmstream.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 3  # 3: types by public tag; 2: by class name (still read); 1 was pickle (skipped as foreign)
#: formats read, and the table from the names each wrote to the tags (None: tags already)
READS: dict[int, dict[str, str] | None] = {3: None, 2: ENGINE_NAMES_V2}
MAGIC = b"mmstream-analytics-checkpoint\n"
_NAME = re.compile(r"^engine-(\d{12})\.ckpt$")
#: settings the engine's state depends on (the log itself: the topic prefix)
_ENGINE_PREFIXES = ("window_", "topic_", "alert_", "analytics_dedupe", "category_threshold", "idle_partition", "partitions", "analytics_partitions")


def fingerprint(settings: Settings) -> str:
    """A digest of the settings the engine's state depends on."""
    relevant = {k: v for k, v in sorted(asdict(settings).items()) if k.startswith(_ENGINE_PREFIXES)}
    return hashlib.sha256(repr(relevant).encode()).hexdigest()[:16]


class Checkpoints:
    """The engine checkpoints of one worker's data directory."""

    def __init__(self, settings: Settings, partition: int = 0) -> None:
        self.settings, self.partition = settings, partition
        # one folder per engine partition of <prefix>mentions
        self.directory = Path(settings.data_dir) / f"{settings.app_id}-analytics" / f"p{partition}"
        self.fingerprint = fingerprint(settings)
        self.keep = max(1, settings.analytics_checkpoint_keep)
        self.saved: list[dict] = []  # the last few saves: offset, bytes, ms
        self.codec = engine_codec()

    def offsets(self) -> list[int]:
        """Offsets of the checkpoints on disk, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := _NAME.match(p.name)))

    def path(self, offset: int) -> Path:
        return self.directory / f"engine-{offset:012d}.ckpt"

    def snapshot(self, engine: Any) -> tuple[int, bytes]:
        """``engine``'s state as of ``engine.next_offset``, frozen in memory (the caller keeps the
        engine still meanwhile: the worker does this on its event loop, between records). The
        freeze is a pickle that never leaves this process (0.2-0.4 s for 100,000 mentions' state,
        a third of the data format's cost): :meth:`write` turns it into the data format, in the
        checkpoint thread, off the event loop."""
        with engine.lock:
            return engine.next_offset, pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL)

    def encode(self, offset: int, frozen: bytes) -> bytes:
        """The checkpoint file for a :meth:`snapshot`: header line, JSON header, zlib'd state."""
        state = self.codec.dumps(pickle.loads(frozen))  # our own bytes, from this process
        return pack(MAGIC, {"format": FORMAT, "fingerprint": self.fingerprint, "offset": offset}, state)

    def write(self, offset: int, frozen: bytes, began: float | None = None) -> Path:
        """Write a snapshot in the data format (aside, then renamed into place); drop all but the newest ``keep``."""
        data = self.encode(offset, frozen)
        target = self.path(offset)
        write_aside(target, data)
        for old in self.offsets()[:-self.keep]:
            self.path(old).unlink(missing_ok=True)
        ms = round(1000 * (time.monotonic() - began), 1) if began is not None else None
        self.saved = [*self.saved[-4:], {"offset": offset, "bytes": len(data), "ms": ms}]
        return target

    def save(self, engine: Any) -> Path:
        """:meth:`snapshot` then :meth:`write`."""
        began = time.monotonic()
        return self.write(*self.snapshot(engine), began=began)

    def load(self, at_most: int, newer_than: int = -1) -> Any | None:
        """The engine of the newest usable checkpoint with ``newer_than < offset <= at_most``, or None."""
        for offset in reversed(self.offsets()):
            if offset > at_most:
                continue
            if offset <= newer_than:
                return None
            try:
                engine = self.read(offset)
            except CheckpointError as why:
                log.warning("analytics: checkpoint %s %s; ignored, trying an older one (or replaying the log)",
                            self.path(offset), why)
                continue
            except Exception as exc:  # noqa: BLE001 - a damaged file costs a longer replay, nothing else
                log.warning("analytics: checkpoint %s cannot be read (%r); trying an older one", self.path(offset), exc)
                continue
            engine.settings = self.settings  # not saved: the fingerprint says they agree
            return engine
        return None

    def read(self, offset: int) -> Any:
        """The engine saved at ``offset``; :class:`CheckpointError` (foreign, damaged, of an unknown format,
        other settings) or an error."""
        header, engine = read_checkpoint(self.path(offset).read_bytes(), self.codec)
        if header.get("fingerprint") != self.fingerprint:
            raise CheckpointError("was written under other settings")
        if getattr(engine, "partition", 0) != self.partition:
            raise CheckpointError(f"holds the engine of partition {getattr(engine, 'partition', 0)}, not {self.partition}")
        if header.get("offset") != offset or engine.next_offset != offset:
            raise CheckpointError(f"says offset {header.get('offset')}, engine at {engine.next_offset}")
        return engine


def read_checkpoint(data: bytes, codec: StateCodec | None = None) -> tuple[dict, AnalyticsEngine]:
    """(header, engine) of a checkpoint file's bytes, of any format this mmstream reads (the
    settings and offset checks are the caller's); :class:`CheckpointError` otherwise."""
    header, state = unpack(data, MAGIC, "an mmstream checkpoint")
    version = header.get("format")
    if version not in READS:
        newer = isinstance(version, int) and version > FORMAT
        raise CheckpointError(f"is of format {version}, not {FORMAT}" + (
            ": written by a newer mmstream; run that version, or delete the file to replay the log" if newer else ""))
    try:
        engine = (codec or engine_codec()).loads(state, READS[version])
    except StateFormatError as exc:
        raise CheckpointError(f"cannot be read ({exc})") from None
    if not isinstance(engine, AnalyticsEngine):
        raise CheckpointError("does not hold an engine")
    return header, engine
