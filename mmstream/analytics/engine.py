"""The analytics engine: mentions in (in log order), records out.

Composes the window aggregator, the topic miner and the spike detector. Per
mention: drop it if its post id was seen recently (at-least-once delivery
replays posts), let the miner account for it, add it to the windows, then for
every window that closed emit its per-brand figures, and for every closed
tumbling window run the detector and the miner's maintenance.

The engine is deterministic and never reads the wall clock: the same mentions
in the same order produce the same outputs and the same state. That is the
restart story: a worker that takes over ``<prefix>mentions`` replays it from
the beginning up to its committed offset (outputs discarded, they were sent
before) and continues from there.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from mmstream.analytics.aggregator import WindowAggregator
from mmstream.analytics.alerts import AlertConfig, SpikeDetector
from mmstream.analytics.events import Mention
from mmstream.analytics.topics import MinerConfig, OnlineTopicMiner
from mmstream.analytics.windows import window_specs
from mmstream.schemas.versions import VERSIONS
from mmstream.settings import Settings

#: the output topics (name after the prefix) the engine writes
OUTPUT_TOPICS = ("brand-stats", "late", "topics", "alerts")


@dataclass(frozen=True)
class Output:
    topic: str  # one of OUTPUT_TOPICS
    key: str
    value: dict  # stamped with its schema version: {"schema": "mmstream.<topic>/N", ...}

    def __post_init__(self) -> None:
        if "schema" not in self.value:
            object.__setattr__(self, "value", {"schema": VERSIONS[self.topic], **self.value})


class RecentIds:
    """The last ``size`` distinct ids, for dropping duplicates."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __getstate__(self) -> dict:
        """For checkpoints: the ids as one list (oldest first), cheaper to write than the dict."""
        return {"size": self.size, "ids": list(self._ids)}

    def __setstate__(self, state: dict) -> None:
        self.size = state["size"]
        self._ids = OrderedDict.fromkeys(state["ids"])

    def add(self, key: str) -> bool:
        """True when ``key`` is new."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


class AnalyticsEngine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.specs = window_specs(settings)
        self.windows = WindowAggregator(self.specs, int(round(settings.idle_partition * 1000)), settings.partitions)
        self.miner = OnlineTopicMiner(MinerConfig.from_settings(settings))
        self.detector = SpikeDetector(AlertConfig.from_settings(settings))
        self.top_n = settings.window_top_topics
        self.seen = RecentIds(settings.analytics_dedupe)
        self.lock = threading.RLock()
        #: log offset of the next mention to process (kept by the service)
        self.next_offset = 0
        self.stats = {"mentions": 0, "duplicates": 0, "late": 0, "windows_closed": 0, "alerts": 0, "topic_records": 0}

    def __getstate__(self) -> dict:
        """For checkpoints (:mod:`mmstream.analytics.checkpoint`): everything but the lock
        and the settings (they hold credentials; whoever restores the engine sets its own)."""
        state = self.__dict__.copy()
        del state["lock"], state["settings"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.settings: Settings | None = None
        self.lock = threading.RLock()

    def process(self, m: Mention) -> list[Output]:
        with self.lock:
            if not self.seen.add(m.id):
                self.stats["duplicates"] += 1
                return []
            self.stats["mentions"] += 1
            assigned = next((r.id for r in m.topics if r.kind == "mined"), None)
            seen = self.miner.observe(m.id, m.t_ms, m.vec, m.text, assigned)
            out = self._topic_outputs(seen.records)
            added = self.windows.add(m)
            if added.late is not None:
                self.stats["late"] += 1
                out.append(Output("late", m.id, added.late))
            for window in added.closed:
                self.stats["windows_closed"] += 1
                for brand in sorted(window.state.brands):
                    record = window.state.brand_record(brand, window.spec, window.start, self.top_n, self.miner.label)
                    out.append(Output("brand-stats", f"{brand}|{window.spec.name}|{record['window']['start']}", record))
                if window.spec is self.specs[0]:
                    alerts = self.detector.observe(window, self.miner.label)
                    self.stats["alerts"] += len(alerts)
                    out += [Output("alerts", a["id"], a) for a in alerts]
                    out += self._topic_outputs(self.miner.maintain(self.windows.watermark or window.end))
            return out

    def _topic_outputs(self, records: list[dict]) -> list[Output]:
        self.stats["topic_records"] += len(records)
        return [Output("topics", r["id"], r) for r in records]

    def open_windows(self, brand: str, spec_name: str) -> list[dict]:
        with self.lock:
            return self.windows.open_records(brand, spec_name, self.top_n, self.miner.label)

    def describe(self) -> dict:
        with self.lock:
            return {**self.stats, "next_offset": self.next_offset, "watermark": self.windows.watermark,
                    "partitions": self.windows.clock.describe(),
                    "open_brands": sorted(self.windows.open_brands()),
                    "active_topics": sum(t.status == "active" for t in self.miner.topics.values())}
