"""The one ONNX Runtime session wrapper every model in mmstream goes through."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from mmstream.errors import ConfigError


#: the settings :func:`build_pipeline <mmstream.pipeline.build.build_pipeline>` was given (see :func:`use_settings`)
_settings: Any = None


def use_settings(settings: Any) -> None:
    """Make ``settings`` the ones every session created from now on takes its threads from
    (``build_pipeline`` calls it: ``build_pipeline(Settings.load(onnx_threads=1))`` reaches the
    sessions of every model and plugin, not only the environment's ``MMSTREAM_ONNX_THREADS``)."""
    global _settings
    _settings = settings


def onnx_threads(settings: Any = None) -> int:
    """Intra-op threads of every session: the ``onnx_threads`` setting
    (``MMSTREAM_ONNX_THREADS``; of ``settings``, else of the settings the pipeline was
    built with, else as loaded now), or, when it is 0
    (the default), half the CPUs this process may use (1 to 4).

    A worker runs its models in one thread; the other cores are left to the
    event loop, Kafka I/O and a co-located broker. On 2 cores, 2 threads ran
    the text encoder only 8 % faster than 1 on a quiet machine (630 against
    582 tweets/s, one tweet per run), took the core Faust needs, and their
    spin-waiting collapsed whenever anything else ran (4-7 ms per tweet under
    load, against 2 ms for 1 thread); a worker did 355 posts/s with 1 thread
    against 276-324 with 2 (``mmstream bench``, BENCHMARKS.md).
    """
    if settings is None:
        settings = _settings
    if settings is None:
        from mmstream.settings import Settings

        settings = Settings.load()
    if settings.onnx_threads < 0:
        raise ConfigError(f"MMSTREAM_ONNX_THREADS={settings.onnx_threads}: give 1 or more threads, or 0 for the default")
    if settings.onnx_threads:
        return settings.onnx_threads
    return max(1, min(4, usable_cpus() // 2))


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity; else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxModel:
    """An ONNX model file plus the ``config.json`` beside it.

    ``run(inputs)`` feeds a dict of numpy arrays and returns the outputs as a
    dict. Sessions are created lazily, once, and are safe to call from the
    worker's model thread.
    """

    def __init__(self, path: str | os.PathLike[str], config_name: str = "config.json") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(
                f"model file {self.path} is missing; reinstall mmstream (`pip install -e .`) "
                "or run `mmstream train` to rebuild it"
            )
        cfg = self.path.with_name(config_name)
        self.config: dict[str, Any] = json.loads(cfg.read_text()) if cfg.is_file() else {}
        #: ONNX Runtime graph optimisers this model is run without, from its config
        #: (``onnxruntime_disabled_optimizers``): the model's own setting, like its input size
        self.disabled_optimizers: list[str] = [str(n) for n in self.config.get("onnxruntime_disabled_optimizers", [])]
        self._session = None
        self._lock = threading.Lock()

    @property
    def session(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = onnx_threads()
                    opts.inter_op_num_threads = 1
                    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                    # no per-session memory arena: each session's arena grew to its largest concurrent runs
                    # (the text encoders run on two threads) and kept it; without it a worker's RSS after
                    # 30,000 posts was ~50 MB lower at the same speed (benchmarks/memory.py, bench limit)
                    opts.enable_cpu_mem_arena = False
                    # weights stay prepacked: it costs memory (the fused head: 24 -> 37 MB), but a row's output
                    # then does not depend on the rows beside it (without, up to 1e-6 apart: a replayed post
                    # got other values, tests/test_recovery.py)
                    self._session = ort.InferenceSession(
                        str(self.path), sess_options=opts, providers=["CPUExecutionProvider"],
                        disabled_optimizers=self.disabled_optimizers,
                    )
        return self._session

    def open(self) -> "OnnxModel":
        """Create the session now (at start-up) rather than on the first run; returns ``self``."""
        _ = self.session
        return self

    def run(self, inputs: dict[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        names = outputs or [o.name for o in self.session.get_outputs()]
        values = self.session.run(names, inputs)
        return dict(zip(names, values))
