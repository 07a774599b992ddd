"""Figure 1, the limit: raw ONNX inference of the whole model over the posts,
batched as the worker batches, no Kafka.

The posts go through the worker's own :class:`~mmstream.pipeline.batch.Pipeline` in
micro-batches of ``batch_size`` (what ``take_events`` hands the worker at
saturation) while every ``onnxruntime`` session call is recorded: the text
encoder, the image encoder, the OCR detector and recogniser and the fused
head, with the exact inputs the pipeline fed them. Right after each batch its
recorded calls are replayed with the concurrency the worker used: stretch by
stretch, as many threads as it had calls in flight at once, each taking the
next call as soon as it is free (the text plugin's two threads share one
queue of encoder runs); calls made one at a time (OCR, the image encoder, the
fused head) one at a time; only those replays are timed. The limit is posts /
(sum of replay time): the model's work alone, with no JSON, tokenising, image
decoding, face detection (OpenCV), pre/post-processing, Python glue or Kafka. ``cpu_ms_per_post`` is the process CPU time of those replays
(all threads, ONNX Runtime's spinning pool threads included).

The sessions are the worker's own, with its options (``MMSTREAM_ONNX_THREADS``,
by default half the cores: the other half serves Kafka). With ``all_cores``
the calls of the first ``ALL_CORES_SAMPLE`` posts are also replayed, after
the main replay, on twin sessions using every core (``all_cores_posts_per_s``):
the model's speed if nothing else needed a CPU.

The capture pass itself is reported too (``pipeline``): the whole per-batch
path in one process without Kafka.
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Sequence

from mmstream.bench.posts import BenchPost, records
from mmstream.settings import Settings

#: session, output names, feeds, run options, calls in flight with it, phase (a stretch of time with a call in flight)
Call = tuple[Any, Any, dict, Any, int, int]
#: posts whose calls are replayed on the all-cores twins (kept in memory until then)
ALL_CORES_SAMPLE = 200


@contextlib.contextmanager
def recording() -> Iterator[list[Call]]:
    """Record every ``onnxruntime`` session ``run`` (from any thread) while active."""
    from onnxruntime.capi.onnxruntime_inference_collection import Session

    calls: list[Call] = []
    lock = threading.Lock()
    original = Session.run
    in_flight, phase = [0], [0]

    def run(self: Any, output_names: Any, input_feed: dict, run_options: Any = None) -> Any:
        with lock:
            if in_flight[0] == 0:
                phase[0] += 1
            in_flight[0] += 1
            calls.append((self, output_names, dict(input_feed), run_options, in_flight[0], phase[0]))
        try:
            return original(self, output_names, input_feed, run_options)
        finally:
            with lock:
                in_flight[0] -= 1

    Session.run = run  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Session.run = original  # type: ignore[method-assign]


def model_name(session: Any) -> str:
    """A short name for a session: its model file and the folder that says whose it is."""
    path = getattr(session, "_model_path", None)
    if not isinstance(path, str):
        return type(session).__name__
    p = Path(path)
    owner = p.parent.parent.name if p.parent.name == "model" else p.parent.name
    return f"{owner}/{p.name}"


class Twins:
    """A second session per model file with ``threads`` intra-op threads, to replay
    the same calls as if every core served inference."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._sessions: dict[str, Any] = {}

    def prepare(self, calls: Sequence[Call]) -> None:
        """Create the twins of the sessions in ``calls`` and run each once (not timed)."""
        import onnxruntime as ort

        for session, names, feeds, *_ in calls:
            path = getattr(session, "_model_path", None)
            if isinstance(path, str) and path not in self._sessions:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self.threads
                opts.inter_op_num_threads = 1
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                twin = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                twin.run(names, feeds)
                self._sessions[path] = twin

    def replay(self, calls: Sequence[Call]) -> float:
        """Seconds to run ``calls`` on the twins (on the original session if it has no file)."""
        started = time.perf_counter()
        for session, names, feeds, options, *_ in calls:
            self._sessions.get(getattr(session, "_model_path", None), session).run(names, feeds, options)
        return time.perf_counter() - started


def replay_as_captured(calls: Sequence[Call], pool: ThreadPoolExecutor) -> list[tuple[str, float]]:
    """Run ``calls`` again with the worker's concurrency; (model name, seconds) per call.

    Phase by phase, in order (a phase: a stretch of the capture during which some
    call was running): a phase's calls on as many threads as the worker had calls
    in flight at once in it, each thread taking the next call in capture order as
    soon as it is free (the text plugin's two threads share one queue of encoder
    runs the same way); calls the worker made one at a time, one at a time.
    """
    phases: dict[int, list[Call]] = defaultdict(list)
    for call in calls:
        phases[call[5]].append(call)
    groups: list[list[Call]] = []
    for group in phases.values():
        # two threads may both be between runs for an instant: that splits a parallel stretch in two
        if groups and _width(groups[-1]) > 1 and _width(group) > 1:
            groups[-1] += group
        else:
            groups.append(group)
    timed: list[tuple[str, float]] = []
    for group in groups:
        taken = itertools.count()

        def run(group: list[Call] = group, taken: Iterator[int] = taken) -> list[tuple[str, float]]:
            out = []
            while (k := next(taken)) < len(group):
                session, names, feeds, options, *_ = group[k]
                t0 = time.perf_counter()
                session.run(names, feeds, options)
                out.append((model_name(session), time.perf_counter() - t0))
            return out

        futures = [pool.submit(run) for _ in range(_width(group) - 1)]
        timed += run()
        for future in futures:
            timed += future.result()
    return timed


def _width(group: Sequence[Call]) -> int:
    """The most calls the worker had in flight at once during ``group``."""
    return max(call[4] for call in group)


def measure_limit(posts: Sequence[BenchPost], settings: Settings, batch_size: int | None = None,
                  all_cores: int | None = None) -> dict:
    """Capture and replay the model's calls over ``posts``; the figures as a dict.

    ``all_cores``: also replay every call on twin sessions with that many threads
    (``all_cores_posts_per_s``), when it differs from the worker's setting.
    """
    from mmstream.inference.onnx import onnx_threads
    from mmstream.pipeline.build import build_pipeline

    size = batch_size or settings.batch_size
    settings = settings.replace(batch_size=size)
    pipeline = build_pipeline(settings)
    items = [(raw, None) for _, raw in records(posts, "limit-")]
    warm = [(raw, None) for _, raw in records(posts[: min(len(posts), size)], "limit-warm-")]
    pipeline.process(warm)  # first-call costs (allocations, thread pools) are not the steady state
    by_model: dict[str, float] = defaultdict(float)
    runs: dict[str, int] = defaultdict(int)
    replay_s = pipeline_s = cpu_s = twin_s = 0.0
    twins = Twins(all_cores) if all_cores and all_cores != onnx_threads() else None
    sample: list[Call] = []  # the calls of the first ALL_CORES_SAMPLE posts, for the twins
    sampled = 0
    results = 0
    side = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mmstream-replay")
    gc.collect()
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        with recording() as calls:
            t0 = time.perf_counter()
            outcomes = pipeline.process(batch)
            pipeline_s += time.perf_counter() - t0
        results += sum(o.kind == "result" for o in outcomes)
        c0, t0 = time.process_time(), time.perf_counter()
        for name, spent in replay_as_captured(calls, side):
            by_model[name] += spent
            runs[name] += 1
        replay_s += time.perf_counter() - t0
        cpu_s += time.process_time() - c0
        if twins is not None and sampled < ALL_CORES_SAMPLE:
            sample += calls
            sampled += len(batch)
        del calls
    if twins is not None:  # after the worker's sessions: their spinning threads must not overlap
        twins.prepare(sample)
        twin_s = twins.replay(sample)
    n = len(items)
    return {
        "posts": n,
        "results": results,
        "batch_size": size,
        "posts_per_s": round(n / replay_s, 1) if replay_s else None,
        "seconds": round(replay_s, 3),
        "cpu_ms_per_post": round(1000 * cpu_s / n, 3),
        "onnx_threads": onnx_threads(),
        "all_cores_threads": twins.threads if twins else None,
        "all_cores_posts_per_s": round(sampled / twin_s, 1) if twins and twin_s else None,
        "all_cores_posts": sampled if twins else None,
        "pipeline_posts_per_s": round(n / pipeline_s, 1) if pipeline_s else None,
        "pipeline_seconds": round(pipeline_s, 3),
        "models": {
            name: {"runs": runs[name], "ms_per_post": round(1000 * spent / n, 3)}
            for name, spent in sorted(by_model.items(), key=lambda kv: -kv[1])
        },
    }
