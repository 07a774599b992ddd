"""``mmstream produce``: replay a JSON-lines file (or stdin) of posts into the posts topic.

Lines are sent as they are, unvalidated: bad input must reach the worker, which dead-letters
it. ``mmstream demo`` and the tests send their posts with :func:`produce_jsonl` too.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Optional

from mmstream.errors import BrokerError, ConfigError
from mmstream.kafka.admin import check_access, create_topics
from mmstream.kafka.clients import kafka_producer
from mmstream.pipeline.post import usable_id
from mmstream.progress import line_end
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # kafka-python 3.x on import
    from kafka.errors import KafkaError


def produce_command(settings: Settings, path: str, rate: float | None) -> int:
    """The command: the posts topic created when missing (its catalogue partitions and configs),
    every line of ``path`` (``-``: stdin) sent, at most ``rate`` a second; exit status 0."""
    create_topics(settings, roles=("input",))
    n = produce_jsonl(settings, path, settings.topic("posts"), rate=rate, progress=True)
    print(f"produced {n} posts to {settings.topic('posts')}", file=sys.stderr)
    return 0


def _lines(path_or_lines: str | Path | Iterable[str | bytes]) -> Iterator[bytes]:
    if path_or_lines == "-":  # the command line's stdin
        yield from sys.stdin.buffer
    elif isinstance(path_or_lines, (str, Path)):
        path = Path(path_or_lines)
        if not path.is_file():
            raise ConfigError(f"{path} does not exist; pass a JSON-lines file")
        with path.open("rb") as fh:
            yield from fh
    else:
        for line in path_or_lines:
            yield line.encode("utf-8") if isinstance(line, str) else line


def _key_of(line: bytes) -> Optional[bytes]:
    try:
        post = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply: the worker dead-letters it
        return None
    post_id = usable_id(post.get("id")) if isinstance(post, dict) else None
    return post_id.encode("utf-8") if post_id else None


def produce_jsonl(settings: Settings, path_or_lines: str | Path | Iterable[str | bytes],
                  topic: str, rate: float | None = None, progress: bool = False) -> int:
    """Send every non-empty line to ``topic`` as is; the number sent.

    Lines are not validated: bad input must reach the worker, which
    dead-letters it.  The key is the post's ``id`` when the line is a JSON
    object with a string ``id``.  ``rate`` caps posts per second; ``progress``
    prints a running count on stderr.  ``topic`` is the full topic name.
    """
    if rate is not None and rate <= 0:
        raise ConfigError(f"rate {rate} must be positive posts/second (or omitted)")
    check_access(settings, write=[topic])  # a refused login or a missing ACL fails here, before any record
    producer = kafka_producer(settings, "mmstream-producer", linger_ms=5)
    errors: list[BaseException] = []
    count = 0
    started = time.monotonic()
    last_report = started
    tty = line_end() == "\r"  # off a terminal (a log, a pipe) a line every 5 s, never carriage returns
    try:
        for raw in _lines(path_or_lines):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            if rate is not None:
                delay = started + count / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            producer.send(topic, value=line, key=_key_of(line)).add_errback(errors.append)
            count += 1
            if progress and time.monotonic() - last_report >= (1.0 if tty else 5.0):
                last_report = time.monotonic()
                print(f"sent {count} posts", end=line_end(), file=sys.stderr, flush=True)
        producer.flush()
    except KafkaError as exc:
        raise BrokerError(f"sending to {topic} failed: {exc}") from None
    finally:
        producer.close()
    if errors:
        raise BrokerError(f"{len(errors)} of {count} posts were not delivered to {topic}: "
                          f"{errors[0]!r}")
    if progress:
        print(f"sent {count} posts to {topic} in {time.monotonic() - started:.1f} s",
              file=sys.stderr, flush=True)
    return count
