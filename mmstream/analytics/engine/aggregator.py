"""Executing window definitions over a stream of mentions, in event time.

One aggregator per engine partition of ``<prefix>mentions`` (``MMSTREAM_ANALYTICS_PARTITIONS``,
default 4): it sees every mention of that partition's brands (:mod:`mmstream.analytics.engine.routing`),
so each window holds those brands' every post; share of voice over all brands is made exact
downstream, by :mod:`mmstream.analytics.engine.share`. Per mention:

1. for each spec and each window containing the post's ``created_at``: a
   window still open gets the post; a window already closed (watermark past
   ``end + grace``) does not, and the post is reported *late* with the windows
   it missed (it goes to ``<prefix>late``: never silently dropped);
2. the watermark advances: the minimum over the active input partitions of the
   largest event time seen from each (:mod:`mmstream.analytics.engine.watermark`);
3. windows whose ``end + grace`` the watermark reached close, oldest first,
   and are handed back for emission (``<prefix>brand-stats``) and for alerts.

Posts are kept in *panes*, slices of one ``step`` (stream slicing): a post is
added to one pane per spec, and a window is the merge of its ``size / step``
panes when it closes (a late post lands in its pane and so reaches exactly
the windows containing it that are still open). A 1-hour window hopping every
5 minutes costs one pane update per post instead of twelve window updates.

Deterministic: the same mentions in the same order give the same windows,
late posts and closings, which is what makes a replay of the log rebuild it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from mmstream.analytics.engine.events import Mention
from mmstream.analytics.engine.watermark import Watermarks
from mmstream.analytics.engine.windows import WindowSpec, WindowState
from mmstream.timefmt import ms_iso


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
    def __init__(self, specs: Sequence[WindowSpec], idle_ms: int | None = None, partitions: int = 0) -> None:
        if len({s.name for s in specs}) != len(specs):
            raise ValueError("window spec names must be unique")
        self.specs = list(specs)
        #: per spec: pane start -> the posts of [start, start + step)
        self.panes: dict[str, dict[int, WindowState]] = {s.name: {} for s in specs}
        #: per spec: starts of the windows holding posts and not closed yet
        self.pending: dict[str, set[int]] = {s.name: set() for s in specs}
        self.watermark: int | None = None
        self.clock = Watermarks(idle_ms, partitions)

    def add(self, m: Mention) -> AddResult:
        t = m.t_ms
        missed: list[tuple[WindowSpec, int]] = []
        counted: list[tuple[WindowSpec, int]] = []
        wm = self.watermark
        for spec in self.specs:
            starts = spec.starts(t)
            if wm is not None and wm >= spec.closes_at(starts[0]):  # late for one window at least
                missed += [(spec, s) for s in starts if wm >= spec.closes_at(s)]
                open_starts = [s for s in starts if wm < spec.closes_at(s)]
                if not open_starts:
                    continue
            else:
                open_starts = starts
            counted += [(spec, s) for s in open_starts]
            panes, pane_start = self.panes[spec.name], t - t % spec.step_ms
            pane = panes.get(pane_start)
            if pane is None:
                pane = panes[pane_start] = WindowState()
                self.pending[spec.name].update(open_starts)
            pane.add(m)
        late = None
        if missed:
            late = {"id": m.id, "created_at": ms_iso(t), "brands": m.brands, "watermark": ms_iso(self.watermark or t),
                    "grace": {s.name: s.grace_ms / 1000 for s in self.specs},
                    "missed": [spec.describe(start) for spec, start in missed],
                    "counted_in": [spec.describe(start) for spec, start in counted],
                    "sentiment": {"label": m.label, "score": m.score} if m.label is not None else None}
        self.watermark = self.clock.observe(m.source, t, m.pt_ms)
        return AddResult(late, self._close())

    def advance(self, source: str, t_ms: int, pt_ms: int | None) -> list[ClosedWindow]:
        """Input partition ``source`` has reached event time ``t_ms`` (a batch's progress,
        with no post for these windows); the windows that closed."""
        self.watermark = self.clock.observe(source, t_ms, pt_ms)
        return self._close()

    def _close(self) -> list[ClosedWindow]:
        wm = self.watermark
        closed: list[ClosedWindow] = []
        if wm is None:
            return closed
        for spec in self.specs:
            pending = self.pending[spec.name]
            if not pending or spec.closes_at(min(pending)) > wm:
                continue
            panes = self.panes[spec.name]
            for start in sorted(s for s in pending if spec.closes_at(s) <= wm):
                pending.discard(start)
                closed.append(ClosedWindow(spec, start, self._window(spec, start)))
            # a pane's last window starts where the pane does: once that one closed, the pane is done
            for start in [p for p in panes if spec.closes_at(p) <= wm]:
                del panes[start]
        order = {s.name: i for i, s in enumerate(self.specs)}
        closed.sort(key=lambda w: (w.end, order[w.spec.name]))
        return closed

    def _window(self, spec: WindowSpec, start: int) -> WindowState:
        """The window starting at ``start``: the merge of its panes."""
        panes = self.panes[spec.name]
        parts = [panes[p] for p in range(start, spec.end(start), spec.step_ms) if p in panes]
        return parts[0] if len(parts) == 1 and spec.step_ms == spec.size_ms else WindowState.merged(parts)

    def open_records(self, brand: str, spec_name: str, top_n: int,
                     label_of: Callable[[str], str | None]) -> list[dict]:
        """Current figures of the still-open windows of ``brand`` (``closed: false``)."""
        spec = next(s for s in self.specs if s.name == spec_name)
        out = []
        for start in sorted(self.pending[spec_name]):
            state = self._window(spec, start)
            if brand in state.brands:
                out.append(state.brand_record(brand, spec, start, top_n, label_of, closed=False))
        return out

    def open_brands(self) -> set[str]:
        return {b for panes in self.panes.values() for state in panes.values() for b in state.brands}
