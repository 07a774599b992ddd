"""Testing helpers for plugin authors, and the one source of mmstream's own test fixtures: a pytest
plugin shipped with mmstream (the ``pytest11`` entry point ``mmstream``), active wherever mmstream is
installed. mmstream's tests (tests/conftest.py, tests/support.py) build on these fixtures and helpers
and keep only what is theirs alone, so a plugin's tests and mmstream's own start the same worker on the
same broker and read it back the same way.

Fixtures (docs/plugins.md, "Testing"):

* ``make_post(id=None, created_at=0, **modalities)``: a post dict;
* ``mmstream_settings``: settings with a topic prefix, app id, web port and data dir of the test's own;
* ``mmstream_pipeline`` (session): the pipeline ``mmstream score`` runs, every installed plugin loaded;
* ``mmstream_score(posts)``: one outcome record per post, in order (results and dead letters);
* ``mmstream_broker`` (session): the embedded broker (tansu);
* ``mmstream_worker``: a real worker process on that broker, with ``produce(posts)``,
  ``outcomes(expected)`` and ``stop()``.

Helpers: :func:`unique_settings` (what ``mmstream_settings`` gives, with overrides); a worker process,
:class:`Worker` and :func:`run_worker` (:mod:`mmstream.testing.worker`, with :func:`worker_env` and
:func:`produce`); waits that fail the test saying what they saw, :func:`wait_for`, :func:`outcomes`,
:func:`read_outcomes`, :func:`wait_until`, and :func:`read_all`, which never fails
(:mod:`mmstream.testing.waits`); the read-back itself, :func:`consume` (topics from their beginning
until a condition holds or time runs out) and :class:`Record` (one record read back).

Nothing heavy is imported until a fixture or helper is used.
"""
from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from mmstream.settings import Settings
from mmstream.testing.waits import Until, outcomes, read_all, read_outcomes, record_key, wait_for, wait_until
from mmstream.testing.worker import Worker, produce, run_worker, worker_env

__all__ = ["Record", "Until", "Worker", "consume", "outcomes", "produce", "read_all", "read_outcomes", "record_key",
           "run_worker", "unique_settings", "wait_for", "wait_until", "worker_env"]

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


def unique_settings(data_dir: Path, **overrides: Any) -> Settings:
    """``Settings.load(**overrides)`` with a topic prefix, consumer group (app id) and web port of their
    own, and ``data_dir``: no test sees another's records, group members or state."""
    from mmstream.kafka.broker import free_port

    unique = uuid.uuid4().hex[:12]
    own = {"topic_prefix": f"t{unique}.", "app_id": f"mmstream-{unique}", "web_port": free_port(),
           "data_dir": str(data_dir)}
    return Settings.load(**{**own, **overrides})


@pytest.fixture
def mmstream_settings(tmp_path: Path) -> Settings:
    """Settings of the test's own (:func:`unique_settings`; the broker is the configured one)."""
    return unique_settings(tmp_path / "mmstream-data")


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
    """The embedded broker (tansu) on a free port, one for the session (mmstream's own tests call
    it ``broker``)."""
    from mmstream.kafka.broker import EmbeddedBroker

    with EmbeddedBroker(log_path=tmp_path_factory.mktemp("mmstream-broker") / "tansu.log") as broker:
        yield broker


@pytest.fixture
def mmstream_worker(mmstream_broker: Any, mmstream_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    """A worker on the embedded broker, topics of the test's own; stopped after the test."""
    worker = Worker(mmstream_settings.replace(broker=mmstream_broker.url), tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()
