"""Figures 2 to 4: a system (mmstream's worker, or the per-event peer) run as a
worker process against the embedded broker and driven through Kafka.

Per system and mix, one fresh worker process and three phases, each with its
own post ids:

1. warm-up: the first posts of the mix, sent at once; waits until all came
   back (the worker joined its group, models loaded). Not measured.
2. saturation: every post sent as fast as the producer goes; posts/s from the
   first produce to the last result record.
3. half load (optional): the same posts at half the saturation rate, paced;
   event-to-result latency per post (capped to ``latency_seconds`` of sending).

CPU: over the saturation phase, per post, the worker's user + system CPU time
(``/proc/<pid>/stat``: less sensitive than wall time to other load on the
machine), and an account of every core's time (:mod:`mmstream.bench.cpu`):
worker, embedded broker, this process (the load generator), other, idle.

Peak RSS: ``VmHWM`` of the worker process (``/proc/<pid>/status``), the
kernel's high-water mark of its resident memory over its whole life, read
after the last phase.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from mmstream.bench.cpu import account, snapshot
from mmstream.bench.driver import Driver, Phase
from mmstream.bench.posts import BenchPost, records
from mmstream.kafka.broker import free_port
from mmstream.kafka.admin import create_topics
from mmstream.settings import Settings

WARM_POSTS = 32
#: seconds for the warm-up (joining the consumer group, loading models)
WARM_TIMEOUT = 180.0
TOPICS = ("posts", "enriched", "dead-letter")


@dataclass
class System:
    """How to start a system: ``python -m <module> [args]`` with ``MMSTREAM_*`` settings."""

    name: str
    module: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: worker processes in one consumer group (the per-event peers run one per core)
    processes: int = 1


def vm_kb(pid: int, key: str) -> int | None:
    """A ``Vm*`` line of ``/proc/<pid>/status`` in kB (None when unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class WorkerProcess:
    """A system's worker processes (``system.processes`` of them, one consumer
    group, each on its own web port), logging to one file."""

    def __init__(self, system: System, settings: Settings, log: Path) -> None:
        env = {**os.environ, **system.env,
               "MMSTREAM_BROKER": settings.broker, "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix,
               "MMSTREAM_APP_ID": settings.app_id, "MMSTREAM_WEB_PORT": str(settings.web_port),
               "MMSTREAM_DATA_DIR": settings.data_dir, "MMSTREAM_PARTITIONS": str(settings.partitions)}
        self.log_path = log
        self._log = open(log, "ab")
        self.procs = [subprocess.Popen([sys.executable, "-m", system.module, *system.args],
                                       env={**env, "MMSTREAM_WEB_PORT": str(settings.web_port if i == 0 else free_port())},
                                       stdout=self._log, stderr=subprocess.STDOUT)
                      for i in range(max(1, system.processes))]
        self.pids = [p.pid for p in self.procs]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def peak_rss_mb(self) -> float | None:
        """The processes' peak resident sizes added up (the deployment's footprint)."""
        kbs = [vm_kb(pid, "VmHWM") for pid in self.pids]
        return round(sum(kbs) / 1024, 1) if None not in kbs else None

    def stop(self, timeout: float = 20.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._log.close()

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def measure_system(system: System, broker: str, mix: str, posts: Sequence[BenchPost], *, latency: bool,
                   latency_seconds: float, partitions: int, workdir: Path, run: int = 0,
                   broker_pid: int | None = None) -> dict:
    """Start ``system`` for ``mix``, run the phases, stop it; its figures. ``run``
    numbers repeated measurements: each has its own topics and consumer group;
    ``broker_pid`` (the embedded broker's) puts the broker in the CPU account."""
    tag = f"bench-{system.name}-{mix}" + (f"-{run}" if run else "")
    settings = Settings.load(broker=broker, topic_prefix=f"{tag}.", app_id=tag, web_port=free_port(),
                             data_dir=str(workdir / tag), partitions=partitions)
    create_topics(settings, topics=TOPICS)
    worker = WorkerProcess(system, settings, workdir / f"{tag}.log")
    try:
        figures = asyncio.run(_phases(settings, worker, posts, latency, latency_seconds, broker_pid))
        figures["peak_rss_mb"] = worker.peak_rss_mb()
    finally:
        worker.stop()
    if figures.get("error"):
        figures["log_tail"] = worker.tail()
    return figures


async def _phases(settings: Settings, worker: WorkerProcess, posts: Sequence[BenchPost], latency: bool,
                  latency_seconds: float, broker_pid: int | None = None) -> dict:
    driver = Driver(settings.broker, settings.topic("posts"), settings.topic("enriched"),
                    settings.topic("dead-letter"), settings.partitions)
    figures: dict = {"posts": len(posts)}
    async with driver:
        warm = await driver.run("warm-up", records(posts[:WARM_POSTS], "warm-"), rate=None,
                                timeout=WARM_TIMEOUT, alive=worker.alive)
        if warm.missing:
            return {**figures, "error": f"warm-up: {warm.missing} of {warm.n} posts did not come back"}
        pids = {"worker": worker.pids, "broker": broker_pid, "load_generator": os.getpid()}
        before = snapshot(pids)
        sat = await driver.run("saturation", records(posts, "sat-", WARM_POSTS), rate=None,
                               timeout=_timeout(len(posts)), alive=worker.alive)
        cpu = account(before, snapshot(pids), sat.n)
        figures["saturation"] = _phase_figures(sat)
        figures["saturation"]["cpu_ms_per_post"] = cpu
        if cpu["worker"] is not None:
            figures["saturation"]["worker_cpu_ms_per_post"] = cpu["worker"]
        if sat.missing:
            return {**figures, "error": f"saturation: {sat.missing} of {sat.n} posts did not come back"}
        figures["outputs"] = {k: o.value for k, o in sat.outputs.items()}
        if latency:
            rate = sat.throughput() / 2
            count = max(1, min(len(posts), int(rate * latency_seconds)))
            half = await driver.run("half load", records(posts[:count], "lat-", WARM_POSTS + len(posts)),
                                    rate=rate,
                                    timeout=_timeout(count), alive=worker.alive)
            figures["half_load"] = _phase_figures(half)
            if half.missing:
                return {**figures, "error": f"half load: {half.missing} of {half.n} posts did not come back"}
        figures["duplicates"] = driver.collector.duplicates
    return figures


def _timeout(n: int) -> float:
    return 120.0 + 0.5 * n


def _phase_figures(phase: Phase) -> dict:
    from mmstream.bench.report import percentiles

    out: dict = {"posts": phase.n, "missing": phase.missing, "dead_letters": phase.dead_letters}
    throughput = phase.throughput()
    out["posts_per_s"] = round(throughput, 1) if throughput else None
    if phase.rate:
        out["rate"] = round(phase.rate, 1)
    if phase.outputs:
        out["latency_ms"] = percentiles(phase.latencies_ms())
        out["latency_received_ms"] = percentiles(phase.latencies_ms(received=True))
    return out


def temp_workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="mmstream-bench-")
