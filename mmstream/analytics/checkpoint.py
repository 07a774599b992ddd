"""Checkpoints of the analytics engine, so that a restart replays only the
mentions written since the last one instead of the whole log.

The engine is deterministic: its state after the mentions at offsets ``[0, K)``
is a function of them. Every ``analytics_checkpoint_every`` mentions, the worker
that runs the engine writes that state together with K to
``<data_dir>/<app_id>-analytics/p<partition>/engine-<K>.ckpt`` (written aside, then renamed
into place; the newest ``analytics_checkpoint_keep`` are kept). A worker that
takes the engine over at committed offset C loads the newest checkpoint with
K <= C and replays ``[K, C)``. The outputs are the same as after a full replay
(``tests/test_checkpoint.py``).

Checkpoints are data, never pickle (:mod:`mmstream.analytics.stateformat`: a data
dir on a shared volume must not be a way to run code). A file is one header line,
``mmstream-analytics-checkpoint``, then one JSON line (format version, settings
fingerprint, offset, SHA-256 and length of the body), then the body: the engine's
state as tagged JSON, zlib-compressed. They hold no settings (so no credentials):
the restoring worker's own are attached. A checkpoint that is damaged (checksum),
foreign (not this format: an old pickled one, any other file), of another version or
written under other engine settings (windows, topics, alerts, dedupe, topic prefix)
is skipped with a warning; a worker without a usable one (another host, a fresh data
directory) replays the whole log, as before.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle  # only to freeze a state in memory (snapshot); files are never pickles
import re
import time
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mmstream.analytics.stateformat import StateCodec, StateFormatError
from mmstream.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 2  # 1 was pickle: such files are skipped as foreign
MAGIC = b"mmstream-analytics-checkpoint\n"
_NAME = re.compile(r"^engine-(\d{12})\.ckpt$")
#: settings the engine's state depends on (the log itself: the topic prefix)
_ENGINE_PREFIXES = ("window_", "topic_", "alert_", "analytics_dedupe", "category_threshold", "idle_partition", "partitions", "analytics_partitions")


def state_codec() -> StateCodec:
    """The codec of the engine's state: these classes, and plain data."""
    from mmstream.analytics import aggregator, alerts, engine, events, topics, topicspace, watermark, windows

    return StateCodec([
        engine.AnalyticsEngine, engine.RecentIds, aggregator.WindowAggregator, watermark.Watermarks,
        watermark._Source, windows.WindowSpec, windows.WindowState, windows.BrandAgg, windows.TopicAgg,
        events.TopicRef, topics.OnlineTopicMiner, topics.MinerConfig, topics.MinedTopic, topics._Outlier,
        topicspace.Space, topicspace.Rows, alerts.SpikeDetector, alerts.AlertConfig, alerts._Series, alerts._Bucket,
    ])


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
        self.codec = state_codec()

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
        body = zlib.compress(self.codec.dumps(pickle.loads(frozen)), 1)  # our own bytes, from this process
        header = {"format": FORMAT, "fingerprint": self.fingerprint, "offset": offset,
                  "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
        return MAGIC + json.dumps(header).encode() + b"\n" + body

    def write(self, offset: int, frozen: bytes, began: float | None = None) -> Path:
        """Write a snapshot in the data format (aside, then renamed into place); drop all but the newest ``keep``."""
        data = self.encode(offset, frozen)
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
                engine = self.read(offset)
            except _Skipped as why:
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
        """The engine saved at ``offset``; :class:`_Skipped` (foreign, damaged, other settings) or an error."""
        from mmstream.analytics.engine import AnalyticsEngine

        data = self.path(offset).read_bytes()
        if not data.startswith(MAGIC):
            raise _Skipped("is not an mmstream checkpoint (an old pickled one, or another file)")
        line, _, body = data[len(MAGIC):].partition(b"\n")
        try:
            header = json.loads(line)
        except ValueError:
            raise _Skipped("has a damaged header") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise _Skipped(f"is of format {header.get('format') if isinstance(header, dict) else '?'}, not {FORMAT}")
        if header.get("fingerprint") != self.fingerprint:
            raise _Skipped("was written under other settings")
        if header.get("bytes") != len(body) or header.get("sha256") != hashlib.sha256(body).hexdigest():
            raise _Skipped("is damaged (its checksum does not match)")
        try:
            engine = self.codec.loads(zlib.decompress(body))
        except (StateFormatError, zlib.error) as exc:
            raise _Skipped(f"cannot be read ({exc})") from None
        if not isinstance(engine, AnalyticsEngine):
            raise _Skipped("does not hold an engine")
        if getattr(engine, "partition", 0) != self.partition:
            raise _Skipped(f"holds the engine of partition {getattr(engine, 'partition', 0)}, not {self.partition}")
        if header.get("offset") != offset or engine.next_offset != offset:
            raise _Skipped(f"says offset {header.get('offset')}, engine at {engine.next_offset}")
        return engine


class _Skipped(Exception):
    """Why a checkpoint file is not used (the message completes "checkpoint <path> ...")."""
