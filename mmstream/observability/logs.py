"""Log format: ``MMSTREAM_LOG_FORMAT=text`` (the default, Faust's own format)
or ``json``: one JSON object per line on stdout, for log shippers::

    {"time": "2026-12-01T09:30:00.123Z", "level": "warning", "logger": "mmstream.worker.app",
     "message": "...", "worker": "mmstream-0-4711", "partition": 3}

``partition`` is there when known: a record logged with
``extra={"partition": n}``, or inside :func:`partition_context`. Exceptions
come as ``exception`` (the formatted traceback, one string). Output that
bypasses Python's logging (a C library writing to stderr) cannot be turned into
JSON; Faust's stdout redirection turns stray ``print`` calls into records.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Iterator

from mmstream.errors import ConfigError

if TYPE_CHECKING:
    from mmstream.settings import Settings

FORMATS = ("text", "json")
_partition: ContextVar[int | None] = ContextVar("mmstream_log_partition", default=None)


def worker_id(settings: Settings | None = None) -> str:
    """``MMSTREAM_WORKER_ID`` (``Settings.worker_id``), else ``<hostname>-<pid>`` (a pod's name in Kubernetes)."""
    from mmstream.settings import Settings

    return (settings or Settings.load()).worker_id or f"{socket.gethostname()}-{os.getpid()}"


@contextlib.contextmanager
def partition_context(partition: int | None) -> Iterator[None]:
    """Records logged inside carry ``partition``."""
    token = _partition.set(partition)
    try:
        yield
    finally:
        _partition.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, worker: str | None = None) -> None:
        super().__init__()
        self.worker = worker or worker_id()

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "worker": self.worker,
        }
        partition = getattr(record, "partition", None)
        if partition is None:
            partition = _partition.get()
        if partition is not None:
            out["partition"] = partition
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def check_format(log_format: str) -> str:
    value = (log_format or "text").strip().lower()
    if value not in FORMATS:
        raise ConfigError(f"MMSTREAM_LOG_FORMAT={log_format!r} is not a log format; use one of {', '.join(FORMATS)}")
    return value


def logging_config(log_format: str, loglevel: str = "warning") -> dict | None:
    """A ``logging.config.dictConfig`` for ``log_format`` (None: leave Faust's text
    format); the worker applies it at start and hands it to Faust's worker."""
    if check_format(log_format) == "text":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "mmstream.observability.logs.JsonFormatter", "worker": worker_id()}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json",
                                 "stream": "ext://sys.stdout"}},
        "root": {"level": loglevel.upper(), "handlers": ["default"]},
    }


def configure(log_format: str, loglevel: str = "warning") -> dict | None:
    """Apply :func:`logging_config` now (before Faust starts); returns it."""
    config = logging_config(log_format, loglevel)
    if config is not None:
        import logging.config

        logging.config.dictConfig(config)
        logging.captureWarnings(True)
    return config
