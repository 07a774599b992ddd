"""The share-of-voice stage: a small second stage over the engine partitions' closed windows.

Share of voice is a brand's posts over all brand mentions of the window, every
brand of every engine partition. Each engine partition sends its closed windows'
brand records to ``<prefix>window-totals`` (one partition), in records that also
say how far its watermark got (:meth:`AnalyticsEngine._report`, at least one per
tumbling step of event time, so a partition without any of a window's brands
still says it is done with it). This stage sums each window's posts over the
partitions and, once **every** partition's watermark has passed the window's
close (``end + grace``), writes its brand records to ``<prefix>brand-stats`` with
``share_of_voice`` and ``mentions_in_window`` over all of them: exact, not an
estimate, and the same record format as a single engine wrote.

Why a stage rather than at query time: ``brand-stats`` stays a complete, final
record per brand and window that any consumer (sinks, tables, the HTTP pages of
every worker) reads as before; queries need no join over partitions, nor to know
which partitions have spoken. Its cost grows with windows and brands, not with
mentions: one record per engine partition and tumbling step plus one per brand
window, whatever the traffic (BENCHMARKS.md).

Duplicates (at-least-once: an engine partition taken over re-sends what it sent
after its last commit) change nothing: a brand record replaces the same one, and a
record for a window already written (closed everywhere before) is dropped.
Deterministic: its input log replayed gives its state again (the service replays
it on a restart, outputs discarded).
"""
from __future__ import annotations

from typing import Sequence

from mmstream.analytics.engine.core import Output
from mmstream.analytics.engine.windows import WindowSpec
from mmstream.timefmt import to_ms


class ShareStage:
    def __init__(self, specs: Sequence[WindowSpec]) -> None:
        self.specs = {s.name: s for s in specs}
        self.order = {s.name: i for i, s in enumerate(specs)}
        self.marks: dict[int, int] = {}  # engine partition -> its watermark
        self.partitions = 0
        self.low: int | None = None  # the least watermark over every partition (once all have spoken)
        #: (window name, start ms) -> brand -> its record, for windows not written yet
        self.pending: dict[tuple[str, int], dict[str, dict]] = {}
        self.stats = {"records": 0, "windows": 0, "brand_records": 0, "duplicates": 0}

    def observe(self, value: dict) -> list[Output]:
        """One ``window-totals`` record; the ``brand-stats`` records it completes."""
        self.stats["records"] += 1
        self.partitions = max(self.partitions, int(value["partitions"]))
        for record in value.get("records", []):
            name, start = record["window"]["name"], to_ms(record["window"]["start"])
            spec = self.specs.get(name)
            if spec is None or (self.low is not None and spec.closes_at(start) <= self.low):
                self.stats["duplicates"] += 1  # written already: a re-sent record
                continue
            self.pending.setdefault((name, start), {})[record["brand"]] = record
        p, wm = int(value["partition"]), int(value["watermark"])
        self.marks[p] = max(self.marks.get(p, wm), wm)
        if len(self.marks) < self.partitions:
            return []
        low = min(self.marks.values())
        if self.low is not None and low <= self.low:
            return []
        self.low = low
        ready = [k for k in self.pending if self.specs[k[0]].closes_at(k[1]) <= low]
        ready.sort(key=lambda k: (self.specs[k[0]].end(k[1]), self.order[k[0]], k[1]))
        out: list[Output] = []
        for key in ready:
            brands = self.pending.pop(key)
            total = sum(r["posts"] for r in brands.values())
            self.stats["windows"] += 1
            for brand in sorted(brands):
                record = {**brands[brand], "share_of_voice": round(brands[brand]["posts"] / total, 9) if total else 0.0,
                          "mentions_in_window": total}
                record.pop("schema", None)
                out.append(Output("brand-stats", f"{brand}|{key[0]}|{record['window']['start']}", record))
        self.stats["brand_records"] += len(out)
        return out

    def describe(self) -> dict:
        return {**self.stats, "partitions": self.partitions, "watermarks": dict(sorted(self.marks.items())),
                "pending_windows": len(self.pending)}
