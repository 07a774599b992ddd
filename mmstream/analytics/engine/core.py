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

from mmstream.analytics.engine.aggregator import WindowAggregator
from mmstream.analytics.engine.alerts import AlertConfig, SpikeDetector
from mmstream.analytics.engine.campaigns import coordinated_alert
from mmstream.analytics.engine.events import Mention
from mmstream.analytics.engine.topics import MinerConfig, OnlineTopicMiner
from mmstream.analytics.engine.windows import window_specs
from mmstream.schemas.versions import VERSIONS
from mmstream.settings import Settings

CAMPAIGNS_KEPT = 10_000  # campaign ids already alerted on


@dataclass(frozen=True)
class Output:
    # a topic the engine writes (the catalogue's writers: mmstream.kafka.catalogue.ENGINE): late, topics, alerts
    # and window-totals (its closed brand windows, whence the share stage writes brand-stats)
    topic: str
    key: str
    value: dict  # stamped with its schema version: {"schema": "mmstream.<topic>/N", ...} (internal topics: none)

    def __post_init__(self) -> None:
        if "schema" not in self.value and self.topic in VERSIONS:
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
    def __init__(self, settings: Settings, partition: int = 0) -> None:
        self.settings = settings
        #: this engine's partition of <prefix>mentions, of how many (mmstream.analytics.engine.routing)
        self.partition, self.partitions = partition, max(1, settings.analytics_partitions)
        self._reported: int | None = None  # the tumbling step of the last watermark reported to the stage
        self.specs = window_specs(settings)
        self.windows = WindowAggregator(self.specs, int(round(settings.idle_partition * 1000)), settings.partitions)
        self.miner = OnlineTopicMiner(MinerConfig.from_settings(settings))
        self.detector = SpikeDetector(AlertConfig.from_settings(settings))
        self.top_n = settings.window_top_topics
        self.seen = RecentIds(settings.analytics_dedupe)
        self.campaigns: OrderedDict[str, None] = OrderedDict()  # campaign ids alerted on (coordinated)
        self.lock = threading.RLock()
        #: log offset of the next mention to process (kept by the service)
        self.next_offset = 0
        self.stats = {"mentions": 0, "duplicates": 0, "late": 0, "windows_closed": 0, "alerts": 0, "topic_records": 0}

    def __getstate__(self) -> dict:
        """For checkpoints (:mod:`mmstream.analytics.state.checkpoint`): everything but the lock
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
            out: list[Output] = []
            if m.mine:  # one copy of each post mines (the copy on the topic partition)
                # the miner places the post itself, not where the worker's snapshot put it: the snapshot
                # reaches a worker when it does, so trusting it made the same stream mine different topics
                out = self._topic_outputs(self.miner.observe(m.id, m.t_ms, m.vec, m.text).records)
            if m.mine and m.campaign is not None:  # one copy of each post: the mining one
                out += self._coordinated(m)
            added = self.windows.add(m)
            if added.late is not None:
                self.stats["late"] += 1
                out.append(Output("late", m.id, added.late))
            return out + self._closing(added.closed)

    def advance(self, progress: dict) -> list[Output]:
        """A batch's progress (:func:`mmstream.analytics.engine.routing.progress_of`): every input
        partition it names is known to have reached that event time."""
        with self.lock:
            pt = progress.get("pt")
            pt_ms = None if pt is None else int(round(float(pt) * 1000))
            closed = []
            for src, t in sorted(progress.get("src", {}).items()):
                closed += self.windows.advance(str(src), int(round(float(t) * 1000)), pt_ms)
            return self._closing(closed)

    def _closing(self, closed: list) -> list[Output]:
        """Outputs for windows that closed: their brand records (to the share-of-voice stage,
        with this engine's watermark), alerts and the miner's maintenance on tumbling ones."""
        out: list[Output] = []
        records: list[dict] = []
        for window in closed:
            self.stats["windows_closed"] += 1
            for brand in sorted(window.state.brands):
                records.append(window.state.brand_record(brand, window.spec, window.start, self.top_n, self.miner.label))
            if window.spec is self.specs[0]:
                alerts = self.detector.observe(window, self.miner.label)
                self.stats["alerts"] += len(alerts)
                out += [Output("alerts", a["id"], a) for a in alerts]
                out += self._topic_outputs(self.miner.maintain(self.windows.watermark or window.end))
        return self._report(records) + out

    def _report(self, records: list[dict]) -> list[Output]:
        """A ``window-totals`` record when windows closed or the watermark passed a tumbling
        step: what the share-of-voice stage needs to know that this partition is done with a window."""
        wm = self.windows.watermark
        if wm is None:
            return []
        step = wm // self.specs[0].step_ms
        if not records and self._reported is not None and step <= self._reported:
            return []
        self._reported = step
        return [Output("window-totals", str(self.partition), {"partition": self.partition, "partitions": self.partitions,
                                                               "watermark": wm, "records": records})]

    def _coordinated(self, m: Mention) -> list[Output]:
        """A ``coordinated`` alert the first time a campaign id is seen (at most CAMPAIGNS_KEPT remembered)."""
        seen: OrderedDict = self.__dict__.setdefault("campaigns", OrderedDict())  # absent from older checkpoints
        cid = str(m.campaign.get("id"))
        if cid in seen:
            return []
        seen[cid] = None
        if len(seen) > CAMPAIGNS_KEPT:
            seen.popitem(last=False)
        s = self.settings
        sensitivity = {"min_authors": s.campaign_min_authors, "window": s.campaign_window} if s is not None else {}
        alert = coordinated_alert(m, sensitivity)
        self.stats["alerts"] += 1
        return [Output("alerts", alert["id"], alert)]

    def _topic_outputs(self, records: list[dict]) -> list[Output]:
        self.stats["topic_records"] += len(records)
        return [Output("topics", r["id"], r) for r in records]

    def open_windows(self, brand: str, spec_name: str) -> list[dict]:
        """The brand's open windows; their share of voice is only this partition's when there are several (None)."""
        with self.lock:
            records = self.windows.open_records(brand, spec_name, self.top_n, self.miner.label)
        if self.partitions > 1:
            records = [{**r, "share_of_voice": None, "mentions_in_window": None} for r in records]
        return records

    def describe(self) -> dict:
        with self.lock:
            return {**self.stats, "partition": self.partition, "next_offset": self.next_offset,
                    "watermark": self.windows.watermark,
                    "partitions": self.windows.clock.describe(),
                    "open_brands": sorted(self.windows.open_brands()),
                    "active_topics": sum(t.status == "active" for t in self.miner.topics.values())}
