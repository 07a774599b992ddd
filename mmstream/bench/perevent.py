"""The per-event peers: the app an engineer writes first, set up the way an
expert deploys it.

One post per message, scored in line, the result written keyed by post id:

* ``quix``: a Quix Streams ``Application`` (``app.dataframe(topic).apply(score).to_topic(out)``);
* ``faust``: a Faust agent (``async for value in stream: await out.send(...)``).

Both score text-only posts with the one-graph text model
(:mod:`mmstream.bench.onegraph`: mmstream's own shipped encoders and fused
head as a single ONNX graph, one intra-op thread) and posts with images
through mmstream's own image path (the pipeline, one post at a time), and run
as one process per core in one consumer group (``mmstream bench`` starts
them). Run one process as ``python -m mmstream.bench.perevent quix|faust``
with ``MMSTREAM_*`` settings and ``MMSTREAM_BENCH_ONE_GRAPH`` naming the graph.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from mmstream.errors import ConfigError
from mmstream.inference.fused import Prediction
from mmstream.settings import Settings

GRAPH_ENV = "MMSTREAM_BENCH_ONE_GRAPH"
KINDS = ("quix", "faust")


class PerEventScorer:
    """One raw post in, ``(key, result JSON)`` out; a bad post raises."""

    def __init__(self, settings: Settings, graph_path: str | Path) -> None:
        from mmstream.bench.onegraph import OneGraph

        self.settings = settings
        self.graph = OneGraph(Path(graph_path), threads=1)
        self._pipeline: Any = None
        self.model = json.loads((Path(settings.model_dir) / "config.json").read_text())

    def score(self, raw: bytes) -> tuple[bytes, bytes]:
        post = json.loads(raw)
        if post.get("images"):
            return self._through_pipeline(raw)
        record = {"id": post["id"], "created_at": post.get("created_at"),
                  "sentiment": Prediction(self.graph.probs(post["text"])).sentiment(),
                  "model": f"{self.model.get('name')}@{self.model.get('version')}/one-graph"}
        return str(post["id"]).encode(), json.dumps(record, separators=(",", ":")).encode()

    def _through_pipeline(self, raw: bytes) -> tuple[bytes, bytes]:
        if self._pipeline is None:
            from mmstream.pipeline.build import build_pipeline

            self._pipeline = build_pipeline(self.settings)
        outcome = self._pipeline.complete(self._pipeline.prepare([(raw, None)]))[0]
        return (outcome.key or "").encode(), outcome.data


def run_quix(settings: Settings, scorer: PerEventScorer) -> None:
    from quixstreams import Application

    app = Application(broker_address=",".join(b.removeprefix("kafka://") for b in settings.broker.split(",")),
                      consumer_group=settings.app_id, auto_offset_reset="earliest", auto_create_topics=False,
                      loglevel="WARNING",
                      # one state folder per process: the default, ./state, made by two processes at once raced
                      # (FileExistsError in one of them) and left a folder in the working directory
                      state_dir=str(Path(settings.data_dir) / f"quix-state-{os.getpid()}"))
    posts = app.topic(settings.topic("posts"), key_deserializer="bytes", value_deserializer="bytes")
    results = app.topic(settings.topic("enriched"), key_serializer="bytes", value_serializer="bytes")
    sdf = app.dataframe(posts)
    sdf = sdf.apply(lambda value: scorer.score(value)[1])
    # Quix stamps an output with its input's timestamp; the bench counts results by their record
    # timestamps (when they were made, as Faust and mmstream stamp them), so stamp them now
    sdf = sdf.set_timestamp(lambda value, key, timestamp, headers: int(time.time() * 1000))
    sdf.to_topic(results)
    app.run()


def create_faust_app(settings: Settings, scorer: Any) -> Any:
    """A Faust app with one agent scoring every post as it comes, one at a time (``scorer.score(raw)``
    gives ``(key, value)``; a post it cannot score becomes a dead letter). The torch peer uses it too."""
    import faust

    app = faust.App(settings.app_id, broker=settings.broker, broker_session_timeout=settings.broker_session_timeout,
                    producer_enable_idempotence=False, store="memory://", datadir=settings.data_dir,
                    topic_partitions=settings.partitions, web_bind=settings.web_host, web_host=settings.web_host,
                    web_port=settings.web_port,
                    key_serializer="raw", value_serializer="raw")
    posts = app.topic(settings.topic("posts"))
    results = app.topic(settings.topic("enriched"))
    dead_letters = app.topic(settings.topic("dead-letter"))

    @app.agent(posts, name="score")
    async def score(stream: Any) -> None:
        async for value in stream:
            try:
                key, out = scorer.score(value)
            except Exception as exc:  # noqa: BLE001 - a bad post must not stop the peer
                await dead_letters.send(key=None, value=json.dumps({"reason": repr(exc)}).encode())
                continue
            await results.send(key=key, value=out)

    return app


def run_faust(settings: Settings, scorer: Any) -> None:
    import faust

    app = create_faust_app(settings, scorer)
    logging.getLogger("faust").setLevel("WARNING")
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in KINDS:
        print(f"usage: python -m mmstream.bench.perevent {{{'|'.join(KINDS)}}}  (settings from MMSTREAM_*, "
              f"the graph from {GRAPH_ENV})", file=sys.stderr)
        return 2
    graph = os.environ.get(GRAPH_ENV)
    if not graph or not Path(graph).is_file():
        raise ConfigError(f"{GRAPH_ENV} must name the one-graph model (mmstream bench builds it)")
    os.environ.setdefault("MMSTREAM_ONNX_THREADS", "1")  # the image path's sessions, like the graph's
    settings = Settings.load()
    scorer = PerEventScorer(settings, graph)
    (run_quix if argv[0] == "quix" else run_faust)(settings, scorer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
