"""Checkpoints of the analytics engine, so that a restart replays only the
mentions written since the last one instead of the whole log.

The engine is deterministic: its state after the mentions at offsets ``[0, K)``
is a function of them. Every ``analytics_checkpoint_every`` mentions, the worker
that runs the engine writes that state together with K to
``<data_dir>/<app_id>-analytics/engine-<K>.ckpt`` (written aside, then renamed
into place; the newest ``analytics_checkpoint_keep`` are kept). A worker that
takes the engine over at committed offset C loads the newest checkpoint with
K <= C and replays ``[K, C)``. The outputs are the same as after a full replay
(``tests/test_checkpoint.py``).

Checkpoints are local files, pickled: as trusted as the code, since this
worker wrote them into its own data directory. They hold no settings (so no
credentials): the restoring worker's own are attached. A checkpoint written under other
engine settings (windows, topics, alerts, dedupe, topic prefix) or by another
format version is ignored, as is a damaged one; a worker without any (another
host, a fresh data directory) replays the whole log, as before.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mmstream.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 1
_NAME = re.compile(r"^engine-(\d{12})\.ckpt$")
#: settings the engine's state depends on (the log itself: the topic prefix)
_ENGINE_PREFIXES = ("window_", "topic_", "alert_", "analytics_dedupe", "category_threshold", "idle_partition", "partitions")


def fingerprint(settings: Settings) -> str:
    """A digest of the settings the engine's state depends on."""
    relevant = {k: v for k, v in sorted(asdict(settings).items()) if k.startswith(_ENGINE_PREFIXES)}
    return hashlib.sha256(repr(relevant).encode()).hexdigest()[:16]


class Checkpoints:
    """The engine checkpoints of one worker's data directory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = Path(settings.data_dir) / f"{settings.app_id}-analytics"
        self.fingerprint = fingerprint(settings)
        self.keep = max(1, settings.analytics_checkpoint_keep)
        self.saved: list[dict] = []  # the last few saves: offset, bytes, ms

    def offsets(self) -> list[int]:
        """Offsets of the checkpoints on disk, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := _NAME.match(p.name)))

    def path(self, offset: int) -> Path:
        return self.directory / f"engine-{offset:012d}.ckpt"

    def snapshot(self, engine: Any) -> tuple[int, bytes]:
        """``engine``'s state as of ``engine.next_offset``, serialised (the caller keeps the
        engine still meanwhile: the worker does this on its event loop, between records)."""
        with engine.lock:
            offset = engine.next_offset
            return offset, pickle.dumps({"format": FORMAT, "fingerprint": self.fingerprint, "offset": offset,
                                         "engine": engine}, protocol=pickle.HIGHEST_PROTOCOL)

    def write(self, offset: int, data: bytes, began: float | None = None) -> Path:
        """Write a snapshot (aside, then renamed into place); drop all but the newest ``keep``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(offset)
        aside = target.with_suffix(f".{os.getpid()}.tmp")  # workers on one host may share the data dir
        with open(aside, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(aside, target)
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
                with open(self.path(offset), "rb") as f:
                    saved = pickle.load(f)
                if saved.get("format") != FORMAT or saved.get("fingerprint") != self.fingerprint:
                    log.warning("analytics: checkpoint %s was written under other settings or format; ignored",
                                self.path(offset))
                    continue
                engine = saved["engine"]
                if saved.get("offset") != offset or engine.next_offset != offset:
                    raise ValueError(f"says offset {saved.get('offset')}, engine at {engine.next_offset}")
                engine.settings = self.settings  # not saved: the fingerprint says they agree
                return engine
            except Exception as exc:  # noqa: BLE001 - a damaged file costs a longer replay, nothing else
                log.warning("analytics: checkpoint %s cannot be read (%r); trying an older one", self.path(offset), exc)
        return None
