"""Where the machine's CPU went during a phase: the worker, the embedded broker,
the bench's own load generator (this process: producer and collector), anything
else, and idle time, each per post in core-milliseconds.

The end to end figure runs all of them on the same cores, while the limit (raw
inference) has the cores to itself; this account shows what the difference is
made of. Linux only (``/proc``); elsewhere every figure is None.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(pid: int | list[int] | None) -> float | None:
    """User + system CPU seconds process ``pid`` used so far (all its threads);
    for a list of pids, their sum (None if any is unreadable)."""
    if pid is None:
        return None
    if isinstance(pid, list):
        times = [process_cpu(p) for p in pid]
        return None if None in times else sum(times)  # type: ignore[arg-type]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, ValueError, IndexError):
        return None


def machine_cpu() -> tuple[float, float] | None:
    """(all CPU seconds, idle + iowait CPU seconds) of the whole machine so far."""
    try:
        values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    return sum(values[:8]) / TICKS, (values[3] + values[4]) / TICKS


@dataclass
class Snapshot:
    at: float
    machine: tuple[float, float] | None
    processes: dict[str, float | None] = field(default_factory=dict)


def snapshot(pids: dict[str, int | list[int] | None]) -> Snapshot:
    """CPU times now of the machine and of each named process."""
    return Snapshot(time.monotonic(), machine_cpu(), {name: process_cpu(pid) for name, pid in pids.items()})


def account(before: Snapshot, after: Snapshot, posts: int) -> dict[str, float | None]:
    """Core-milliseconds per post between two snapshots: one entry per named
    process, ``other`` (busy CPU not in those processes) and ``idle``; plus
    ``idle_cores``, the average number of idle cores."""
    out: dict[str, float | None] = {}
    known = 0.0
    for name, start in before.processes.items():
        end = after.processes.get(name)
        used = end - start if start is not None and end is not None else None
        out[name] = round(1000 * used / posts, 3) if used is not None and posts else None
        known += used or 0.0
    if before.machine is None or after.machine is None or not posts:
        return {**out, "other": None, "idle": None, "idle_cores": None}
    total = after.machine[0] - before.machine[0]
    idle = after.machine[1] - before.machine[1]
    wall = after.at - before.at
    out["other"] = round(1000 * max(0.0, total - idle - known) / posts, 3)
    out["idle"] = round(1000 * idle / posts, 3)
    out["idle_cores"] = round(idle / wall, 2) if wall > 0 else None
    return out
