"""``python -m mmstream worker`` as a test starts it: the one place a test spawns a worker.

A test runs the worker as a user does, a child process with its settings in the environment
(``MMSTREAM_*``, on top of this process's environment, so plugins on ``PYTHONPATH`` load there too).
:class:`Worker` is one in the background, logging to a file; :func:`run_worker` one expected to stop
by itself (refused at start), its output captured.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from mmstream.settings import Settings
from mmstream.testing.waits import outcomes as read_outcomes_of

#: the command line of a worker (``args`` follow it: ``--lanes text``)
WORKER_COMMAND = (sys.executable, "-m", "mmstream", "worker")


def worker_env(settings: Settings, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, ``settings`` as the ``MMSTREAM_*`` variables a worker reads
    (broker, topic prefix, app id, session timeout, web port, data dir, plugin budget; one ONNX
    thread, since tests share the machine), then ``env``."""
    return {
        **os.environ,
        "MMSTREAM_BROKER": settings.broker,
        "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "MMSTREAM_APP_ID": settings.app_id,
        "MMSTREAM_BROKER_SESSION_TIMEOUT": str(settings.broker_session_timeout),
        "MMSTREAM_WEB_PORT": str(settings.web_port),
        "MMSTREAM_DATA_DIR": settings.data_dir,
        "MMSTREAM_PLUGIN_TIMEOUT": str(settings.plugin_timeout),
        "MMSTREAM_ONNX_THREADS": "1",
        **(env or {}),
    }


def produce(settings: Settings, posts: list[Any], topic: str = "posts") -> int:
    """Send ``posts`` (dicts, or raw str/bytes lines) to ``topic`` (a short name), keyed by id as
    ``mmstream produce`` keys them; the number sent. Creates no topic."""
    from mmstream.commands.produce import produce_jsonl

    lines = [p if isinstance(p, (bytes, str)) else json.dumps(p) for p in posts]
    return produce_jsonl(settings, lines, settings.topic(topic))


class Worker:
    """``python -m mmstream worker [args]`` in the background, logging to ``log``; the
    environment is :func:`worker_env` (``env`` on top)."""

    def __init__(self, settings: Settings, log: Path, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.settings, self.log_path = settings, Path(log)
        self._log = open(log, "ab")
        self.proc = subprocess.Popen([*WORKER_COMMAND, *args], env=worker_env(settings, env), stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def produce(self, posts: list[Any]) -> int:
        """Create the input topics (as ``mmstream produce`` does) and send ``posts`` to them."""
        from mmstream.kafka.admin import create_topics

        create_topics(self.settings, roles=("input",))
        return produce(self.settings, posts)

    def outcomes(self, expected: int, timeout: float = 180.0) -> tuple[dict[str, dict], list[dict]]:
        """Results by post id (the last copy of each) and dead letters, read until ``expected``
        posts came back; AssertionError, with what came back and this worker's log, after
        ``timeout`` or as soon as the worker has exited."""
        copies, dead = read_outcomes_of(self.settings, expected, timeout, context=self,
                                        give_up=lambda: not self.alive())
        return {i: c[-1] for i, c in copies.items()}, dead

    def log(self) -> str:
        """The last 4,000 characters of the worker's log."""
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` (SIGTERM: a graceful stop), wait ``timeout`` s (then SIGKILL); the exit status."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def run_worker(settings: Settings, env: dict[str, str] | None = None, timeout: float = 120,
               args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """A worker expected to stop by itself (a setting refused at start), run to its end; its
    exit status and output (text) captured."""
    return subprocess.run([*WORKER_COMMAND, *args], env=worker_env(settings, env), capture_output=True, text=True,
                          timeout=timeout)
