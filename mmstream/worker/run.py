"""Running a worker: create topics, load plugins and the model once, start Faust."""
from __future__ import annotations

import logging
from typing import Any

from mmstream.kafka import catalogue
from mmstream.worker.app import create_app
from mmstream.settings import Settings

#: the topics every worker creates at start (:mod:`mmstream.kafka.catalogue`, role ``worker``)
OUTPUT_TOPICS = catalogue.WORKER_CREATES
#: what a worker's principal must be allowed on a secured Kafka (ACLs; deploy/README.md): it reads the
#: posts, the mentions (the analytics engine) and the analytics outputs (the feed of every worker's HTTP API)
#: (a topic that does not exist yet is not checked: the worker creates it)
WORKER_READS = catalogue.WORKER_READS
WORKER_WRITES = catalogue.WORKER_WRITES


def topic_roles(settings: Settings) -> tuple[str, ...]:
    """The catalogue roles whose topics this worker creates at start: ``worker``, and ``analytics``
    (the mentions and window-totals) unless the analytics plugin is disabled."""
    from mmstream.plugin.manager import disabled_plugins

    return ("worker",) if "analytics" in disabled_plugins(settings) else ("worker", "analytics")


def prepare_topics(settings: Settings) -> list[str]:
    """Create the topics this worker uses (:func:`topic_roles`) and check its principal may use them; the
    full names created or found. ``<prefix>copies`` only in ``MMSTREAM_DUPLICATE_SCOPE=cluster``: a
    partition-scope worker neither reads nor writes it, so it neither makes it nor needs CREATE on it.
    A refused login, an untrusted certificate or a missing ACL stops the worker here, naming the setting."""
    from mmstream.kafka.admin import check_access, create_topics

    unused = () if str(settings.duplicate_scope).strip().lower() == "cluster" else ("copies",)
    names = create_topics(settings, roles=topic_roles(settings), skip=unused)
    check_access(settings, read=[settings.topic(t) for t in WORKER_READS if t not in unused],
                 write=[settings.topic(t) for t in WORKER_WRITES if t not in unused])
    return names


def freeze_startup_objects() -> None:
    """Move every object alive after start-up (modules, plugins, tokenizers' Python side, the
    model configs: ~110,000 objects) out of the garbage collector's reach (``gc.freeze``).

    A full collection walks every tracked object; the worker's start-up objects never
    become garbage, yet each full collection walked them all again while the event loop
    waited: measured at half load on 2 cores, full collections of ~155,000 objects
    paused the worker 94-103 ms each, straight into the posts' p99 latency."""
    import gc

    from mmstream.worker.malloc import release_free_memory

    gc.collect()
    gc.freeze()
    release_free_memory()  # what the model loaders freed goes back to the system


#: the exit code of a worker that did not stop within MMSTREAM_SHUTDOWN_TIMEOUT
SHUTDOWN_TIMED_OUT = 70


def bound_shutdown(app: Any, timeout: float) -> None:
    """Once the worker begins to stop, give it ``timeout`` seconds (0: no bound), then exit the process.

    Faust's shutdown waits on the broker (the consumer's last commit, the producer's flush, leaving
    the group); with the broker gone it waited for ever: a worker asked to stop by a test, a
    supervisor or Ctrl-C stayed behind. Exiting without that commit keeps at-least-once: the posts
    since the last commit are processed again by whoever takes the partitions next."""
    import os
    import sys
    import threading

    if timeout <= 0:
        return

    def give_up() -> None:
        print(f"mmstream worker: did not stop within {timeout:g} s (MMSTREAM_SHUTDOWN_TIMEOUT; is the broker "
              "reachable?); exiting without a last commit: posts since the last commit are processed again",
              file=sys.stderr, flush=True)
        os._exit(SHUTDOWN_TIMED_OUT)

    @app.on_before_shutdown.connect
    async def start_the_clock(app: Any, **kwargs: Any) -> None:  # noqa: ARG001
        timer = threading.Timer(timeout, give_up)
        timer.daemon = True
        timer.start()


def run_worker(settings: Settings, loglevel: str = "warning") -> int:
    """Blocks until the worker stops (SIGTERM/SIGINT stop it gracefully)."""
    from mmstream.worker.malloc import fix_mmap_threshold, limit_arenas

    limit_arenas()  # first, before threads start: keeps the resident size flat
    fix_mmap_threshold(role=settings.lanes)  # --lanes text: large buffers in their own mappings, not the heap
    from mmstream.web.bind import check_exposure, check_port_free

    check_exposure(settings.web_host, settings.web_token, settings.web_insecure)  # one line, exit 2
    from mmstream.lanes import parse_role

    parse_role(settings.lanes)  # MMSTREAM_LANES: one line naming the choices
    check_port_free(settings.web_host, settings.web_port)  # one line, exit 73
    from mmstream.observability.logs import configure

    log_config = configure(settings.log_format, loglevel)  # MMSTREAM_LOG_FORMAT=json: JSON lines from here on
    import faust

    prepare_topics(settings)
    from mmstream.worker.transactions import check_transactions, exactly_once

    if exactly_once(settings):  # refused here, with the fix, by a broker without transactions
        import asyncio

        asyncio.run(check_transactions(settings))
    app = create_app(settings)
    bound_shutdown(app, settings.shutdown_timeout)
    freeze_startup_objects()
    logging.getLogger("faust").setLevel(loglevel.upper())
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, logging_config=log_config)
    # Faust's start-up spinner sets the root logger to DEBUG (to spin on every record): every
    # library's debug call (aiokafka, kafka-python, per request) would then build a LogRecord
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
