"""Executing window definitions over a stream of mentions, in event time.

One aggregator sees every mention (it runs on the single partition of
``<prefix>mentions``), so each window holds every brand of its time span and
share of voice is exact. Per mention:

1. for each spec and each window containing the post's ``created_at``: a
   window still open gets the post; a window already closed (watermark past
   ``end + grace``) does not, and the post is reported *late* with the windows
   it missed (it goes to ``<prefix>late``: never silently dropped);
2. the watermark becomes the largest event time seen so far;
3. windows whose ``end + grace`` the watermark reached close, oldest first,
   and are handed back for emission (``<prefix>brand-stats``) and for alerts.

Deterministic: the same mentions in the same order give the same windows,
late posts and closings, which is what makes a replay of the log rebuild it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from mmstream.analytics.events import Mention
from mmstream.analytics.windows import WindowSpec, WindowState, ms_iso


@dataclass
class ClosedWindow:
    spec: WindowSpec
    start: int
    state: WindowState

    @property
    def end(self) -> int:
        return self.spec.end(self.start)


@dataclass
class AddResult:
    late: dict | None  # the record for <prefix>late, when the post missed a closed window
    closed: list[ClosedWindow]


class WindowAggregator:
    def __init__(self, specs: Sequence[WindowSpec]) -> None:
        if len({s.name for s in specs}) != len(specs):
            raise ValueError("window spec names must be unique")
        self.specs = list(specs)
        self.open: dict[str, dict[int, WindowState]] = {s.name: {} for s in specs}
        self.watermark: int | None = None

    def add(self, m: Mention) -> AddResult:
        t = m.t_ms
        missed: list[tuple[WindowSpec, int]] = []
        counted: list[tuple[WindowSpec, int]] = []
        for spec in self.specs:
            for start in spec.starts(t):
                if self.watermark is not None and self.watermark >= spec.closes_at(start):
                    missed.append((spec, start))
                    continue
                self.open[spec.name].setdefault(start, WindowState()).add(m)
                counted.append((spec, start))
        late = None
        if missed:
            late = {"id": m.id, "created_at": ms_iso(t), "brands": m.brands, "watermark": ms_iso(self.watermark or t),
                    "grace": {s.name: s.grace_ms / 1000 for s in self.specs},
                    "missed": [spec.describe(start) for spec, start in missed],
                    "counted_in": [spec.describe(start) for spec, start in counted],
                    "sentiment": {"label": m.label, "score": m.score}}
        if self.watermark is None or t > self.watermark:
            self.watermark = t
        return AddResult(late, self._close())

    def _close(self) -> list[ClosedWindow]:
        assert self.watermark is not None
        closed: list[ClosedWindow] = []
        for spec in self.specs:
            windows = self.open[spec.name]
            for start in sorted(s for s in windows if spec.closes_at(s) <= self.watermark):
                closed.append(ClosedWindow(spec, start, windows.pop(start)))
        order = {s.name: i for i, s in enumerate(self.specs)}
        closed.sort(key=lambda w: (w.end, order[w.spec.name]))
        return closed

    def open_records(self, brand: str, spec_name: str, top_n: int,
                     label_of: Callable[[str], str | None]) -> list[dict]:
        """Current figures of the still-open windows of ``brand`` (``closed: false``)."""
        spec = next(s for s in self.specs if s.name == spec_name)
        out = []
        for start, state in sorted(self.open[spec_name].items()):
            if brand in state.brands:
                out.append(state.brand_record(brand, spec, start, top_n, label_of, closed=False))
        return out

    def open_brands(self) -> set[str]:
        return {b for windows in self.open.values() for state in windows.values() for b in state.brands}
