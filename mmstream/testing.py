"""Testing helpers for plugin authors: a pytest plugin shipped with mmstream (the
``pytest11`` entry point ``mmstream``), active wherever mmstream is installed.

Fixtures (docs/plugins.md, "Testing"):

* ``make_post(id=None, created_at=0, **modalities)``: a post dict;
* ``mmstream_settings``: settings with a topic prefix, app id, web port and data dir of the test's own;
* ``mmstream_pipeline`` (session): the pipeline ``mmstream score`` runs, every installed plugin loaded;
* ``mmstream_score(posts)``: one outcome record per post, in order (results and dead letters);
* ``mmstream_broker`` (session): the embedded broker (tansu);
* ``mmstream_worker``: a real worker process on that broker, with ``produce(posts)``,
  ``outcomes(expected)`` and ``stop()``.

The read-back, for tests that read what a worker wrote: :func:`consume` (topics from their
beginning until a condition holds or time runs out) and :class:`Record` (one record read back).

Nothing heavy is imported until a fixture is used.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from mmstream.settings import Settings

_ids = itertools.count(1)


def __getattr__(name: str) -> Any:
    """``Record`` and ``consume`` (:mod:`mmstream.kafka.readback`), imported when first asked for:
    this module is a pytest plugin loaded in every session, and kafka-python is not light."""
    if name in ("Record", "consume"):
        from mmstream.kafka import readback

        return getattr(readback, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@pytest.fixture
def make_post() -> Callable[..., dict[str, Any]]:
    """``make_post(id=None, created_at=0, **modalities)``: a post (a fresh id when none is given)."""

    def make(id: str | None = None, created_at: Any = 0, **modalities: Any) -> dict[str, Any]:  # noqa: A002
        return {"id": id or f"post-{next(_ids)}", "created_at": created_at, **modalities}

    return make


@pytest.fixture
def mmstream_settings(tmp_path: Path) -> Settings:
    from mmstream.kafka.broker import free_port

    unique = uuid.uuid4().hex[:12]
    return Settings.load(topic_prefix=f"t{unique}.", app_id=f"mmstream-{unique}", web_port=free_port(),
                         data_dir=str(tmp_path / "mmstream-data"))


@pytest.fixture(scope="session")
def mmstream_pipeline() -> Any:
    """The pipeline of ``mmstream score``, built once per session with every installed plugin."""
    from mmstream.pipeline.build import build_pipeline

    pipeline = build_pipeline(Settings.load())
    yield pipeline
    pipeline.close()


@pytest.fixture
def mmstream_score(mmstream_pipeline: Any) -> Callable[[list[Any]], list[dict[str, Any]]]:
    """``mmstream_score(posts)``: posts (dicts, or raw str/bytes records) through the pipeline; the
    outcome records (a result, or a dead letter with ``reason``), one per post, in order."""

    def score(posts: list[Any]) -> list[dict[str, Any]]:
        raws = [p if isinstance(p, bytes) else p.encode() if isinstance(p, str) else json.dumps(p).encode()
                for p in posts]
        return [outcome.record for outcome in mmstream_pipeline.process([(raw, None) for raw in raws])]

    return score


@pytest.fixture(scope="session")
def mmstream_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mmstream.kafka.broker import EmbeddedBroker

    with EmbeddedBroker(log_path=tmp_path_factory.mktemp("mmstream-broker") / "tansu.log") as broker:
        yield broker


class Worker:
    """``python -m mmstream worker`` on the embedded broker, as a child process
    (its environment: this one's, so plugins on ``PYTHONPATH`` load there too)."""

    def __init__(self, settings: Settings, log: Path, env: dict[str, str] | None = None) -> None:
        self.settings, self.log_path = settings, log
        self._log = open(log, "ab")
        env = {**os.environ, "MMSTREAM_BROKER": settings.broker, "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix,
               "MMSTREAM_APP_ID": settings.app_id, "MMSTREAM_WEB_PORT": str(settings.web_port),
               "MMSTREAM_DATA_DIR": settings.data_dir, "MMSTREAM_ONNX_THREADS": "1",
               "MMSTREAM_BROKER_SESSION_TIMEOUT": str(settings.broker_session_timeout), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "mmstream", "worker"], env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def produce(self, posts: list[Any]) -> int:
        from mmstream.commands.produce import produce_jsonl
        from mmstream.kafka.admin import create_topics

        create_topics(self.settings, roles=("input",))
        lines = [p if isinstance(p, (str, bytes)) else json.dumps(p) for p in posts]
        return produce_jsonl(self.settings, lines, self.settings.topic("posts"))

    def outcomes(self, expected: int, timeout: float = 180.0) -> tuple[dict[str, dict], list[dict]]:
        """Results by post id and dead letters, read until ``expected`` posts came back
        (or ``timeout``: then AssertionError with the worker's log)."""
        from mmstream.kafka.readback import consume

        topics = [self.settings.topic("enriched"), self.settings.topic("dead-letter")]

        def done(records: list[Any]) -> bool:
            return len(records) >= expected or self.proc.poll() is not None

        records = consume(self.settings, topics, until=done, timeout=timeout)
        results = {r.json()["id"]: r.json() for r in records if r.topic == topics[0]}
        dead = [r.json() for r in records if r.topic == topics[1]]
        if len(results) + len(dead) < expected:
            raise AssertionError(f"{len(results) + len(dead)} of {expected} outcomes after {timeout:.0f} s; "
                                 f"worker log:\n{self.log()}")
        return results, dead

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def mmstream_worker(mmstream_broker: Any, mmstream_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    """A worker on the embedded broker, topics of the test's own; stopped after the test."""
    worker = Worker(mmstream_settings.replace(broker=mmstream_broker.url), tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()
