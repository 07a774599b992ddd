"""Small synchronous Kafka helpers on kafka-python: topics, replay, read-back.

Being split (issue 26): the topic catalogue is :mod:`mmstream.kafka.catalogue`, topic creation and
ACL checks :mod:`mmstream.kafka.admin`, security :mod:`mmstream.kafka.security`, the read-back
:mod:`mmstream.kafka.readback`, the produce command :mod:`mmstream.commands.produce`. Until the
tests import those, ``ensure_topics``, ``check_access``, ``produce_jsonl``, ``consume`` and
``Record`` stay here too; what remains after is this module's client factory.

Used by the CLI (``mmstream produce``, topic creation) and the tests; the
worker itself talks to Kafka through Faust/aiokafka.  Written to work on a real
Kafka and on tansu, the embedded broker, so they

* create topics explicitly (an auto-created topic gets the broker's default
  partition count, and tansu cannot add partitions later);
* never ask the broker for end offsets (tansu's ListOffsets "latest" is wrong
  after multi-record batches): ``consume`` counts what it read instead;
* do not use the idempotent producer (tansu has no InitProducerId).
"""
from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from mmstream.errors import BrokerError, ConfigError
from mmstream.progress import line_end
from mmstream.pipeline.post import usable_id
from mmstream.kafka.catalogue import max_record_bytes, topic_configs
from mmstream.kafka.security import kafka_python_config
from mmstream.settings import Settings

with warnings.catch_warnings():
    # kafka-python 3.x emits a few hundred DeprecationWarnings on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
    from kafka.errors import (KafkaError, SaslAuthenticationFailedError, TopicAlreadyExistsError,
                              TopicAuthorizationFailedError)

#: seconds to reach the bootstrap servers before giving up (kafka-python: 30)
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Record:
    """One record read back from Kafka."""

    topic: str
    partition: int
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    timestamp: int = -1

    def json(self) -> Any:
        """The value parsed as JSON (raises ValueError if it is not)."""
        if self.value is None:
            raise ValueError("record has no value")
        return json.loads(self.value)


def client_config(settings: Settings) -> dict[str, Any]:
    """kafka-python keyword arguments: :func:`mmstream.kafka.security.kafka_python_config`."""
    return kafka_python_config(settings)


def _connect(settings: Settings) -> dict[str, Any]:
    return {**client_config(settings), "bootstrap_timeout_ms": int(CONNECT_TIMEOUT * 1000)}


class _ConnectLog(logging.Handler):
    """kafka-python's own log lines while a client connects: a refused login or an
    untrusted certificate shows there only (the client just reports it cannot bootstrap)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a log line that cannot be formatted is no evidence
            pass


@contextmanager
def connecting(settings: Settings) -> Iterator[None]:
    """Wrap the creation of a kafka-python client: a KafkaError becomes a BrokerError, or a
    ConfigError naming the setting to fix when the broker refused the credentials or its
    certificate is not signed by ``MMSTREAM_SSL_CAFILE``. Fails within ``CONNECT_TIMEOUT``."""
    logger = logging.getLogger("kafka")
    handler = _ConnectLog()
    logger.addHandler(handler)
    try:
        yield
    except KafkaError as exc:
        seen = " ".join(handler.lines)
        sasl = (settings.security_protocol or "").upper().startswith("SASL_")
        tls_failed = "CERTIFICATE_VERIFY_FAILED" in seen or "certificate verify failed" in seen
        if "SaslAuthenticationFailed" in seen or "Authentication failed" in seen or (
                isinstance(exc, SaslAuthenticationFailedError)) or (
                sasl and not tls_failed and "socket disconnected" in seen):
            # Kafka answers a failed SCRAM/PLAIN login by closing the connection
            raise ConfigError(f"Kafka at {settings.broker} refused the SASL login of {settings.sasl_username!r} "
                              f"({settings.sasl_mechanism}): check MMSTREAM_SASL_USERNAME, MMSTREAM_SASL_PASSWORD "
                              "and MMSTREAM_SASL_MECHANISM (and that the listener speaks "
                              "MMSTREAM_SECURITY_PROTOCOL)") from None
        if tls_failed:
            raise ConfigError(f"the TLS certificate of Kafka at {settings.broker} is not signed by the CA in "
                              f"MMSTREAM_SSL_CAFILE={settings.ssl_cafile or '(system CAs)'!r}: point "
                              "MMSTREAM_SSL_CAFILE at the CA that signed the broker's certificate") from None
        if "WRONG_VERSION_NUMBER" in seen or "record layer failure" in seen:
            raise ConfigError(f"Kafka at {settings.broker} does not speak TLS on that port: check "
                              "MMSTREAM_SECURITY_PROTOCOL and MMSTREAM_BROKER") from None
        raise BrokerError(f"cannot reach Kafka at {settings.broker} ({exc}); "
                          "start one with `mmstream broker` or pass --broker") from None
    finally:
        logger.removeHandler(handler)


def admin_client(settings: Settings) -> KafkaAdminClient:
    """A kafka-python admin client (as :func:`kafka_consumer`); the caller closes it."""
    with connecting(settings):
        return KafkaAdminClient(client_id="mmstream-admin", **_connect(settings))


def kafka_consumer(settings: Settings, client_id: str, **options: Any) -> KafkaConsumer:
    """The one factory of mmstream's kafka-python consumers: bootstrap servers and security
    from ``settings``, the connect timeout, and failures that name the fix (:func:`connecting`).
    Defaults: no consumer group, no auto commit, the earliest offset when there is none (where
    retention deleted the start of a log, the oldest record kept); a group gets the settings'
    session timeout. ``options`` (kafka-python's keywords) override the defaults."""
    config: dict[str, Any] = {"group_id": None, "enable_auto_commit": False, "auto_offset_reset": "earliest"}
    config.update(options)
    if config["group_id"] is not None and "session_timeout_ms" not in config:
        # tansu holds a new group's JoinGroup for about half the session timeout (kafka-python's 45 s
        # default made it 23 s): use ours
        session_ms = int(settings.broker_session_timeout * 1000)
        config.update(session_timeout_ms=session_ms, heartbeat_interval_ms=max(100, session_ms // 3))
    with connecting(settings):
        return KafkaConsumer(client_id=client_id, **config, **_connect(settings))


def kafka_producer(settings: Settings, client_id: str, **options: Any) -> KafkaProducer:
    """The one factory of mmstream's kafka-python producers (as :func:`kafka_consumer`):
    acks from every replica, no idempotence (tansu has no InitProducerId), requests up to
    the largest record the settings allow; ``options`` override."""
    config: dict[str, Any] = {"acks": "all", "enable_idempotence": False,
                              "max_request_size": max_record_bytes(settings)}
    config.update(options)
    with connecting(settings):
        return KafkaProducer(client_id=client_id, **config, **_connect(settings))


def check_access(settings: Settings, read: Iterable[str] = (), write: Iterable[str] = ()) -> None:
    """ConfigError naming the principal, the topic and the operation when the broker's ACLs
    do not let this client READ each of ``read`` or WRITE each of ``write`` (full names):
    at start-up, before anything is consumed or written. Brokers that do not report
    authorized operations (tansu) pass."""
    read, write = list(read), list(write)
    needed = {name: set() for name in read + write}
    for name in read:
        needed[name].add("READ")
    for name in write:
        needed[name].add("WRITE")
    if not needed:
        return
    admin = admin_client(settings)
    try:
        described = {t["name"]: t for t in admin.describe_topics(list(needed))}
    except KafkaError as exc:
        raise BrokerError(f"cannot describe topics {sorted(needed)} on {settings.broker}: {exc}") from None
    finally:
        admin.close()
    for name, operations in needed.items():
        topic = described.get(name) or {}
        if topic.get("error_code") == TopicAuthorizationFailedError.errno:
            missing = sorted(operations | {"DESCRIBE"})
        else:
            allowed = topic.get("authorized_operations")
            if allowed is None or "ALL" in allowed:
                continue
            missing = sorted(operations - set(allowed))
        if missing:
            raise ConfigError(f"{principal(settings)} may not {' or '.join(missing)} topic {name!r} on "
                              f"{settings.broker}: grant it (kafka-acls --add --allow-principal "
                              f"User:{settings.sasl_username or '<name>'} --operation {missing[0].title()} "
                              f"--topic {name}) or connect as a principal that may")


def ensure_topics(settings: Settings, names: list[str], partitions: int,
                  timeout: float = 10.0) -> None:
    """Create the (full) topic names that do not exist (with :func:`topic_configs` and
    ``MMSTREAM_REPLICATION_FACTOR`` replicas), then wait until the broker's metadata
    shows all of them with a leader for every partition. Topics that exist are left as
    they are (a principal without CREATE may use topics an admin made)."""
    if not names:
        return
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        replicas = settings.replication_factor if settings.replication_factor > 0 else -1
        for name in names:  # one by one: an existing topic must not hide the others
            if name in existing:
                continue
            topic = NewTopic(name, num_partitions=partitions, replication_factor=replicas,
                             topic_configs=topic_configs(settings, name))
            try:
                admin.create_topics([topic], timeout_ms=int(timeout * 1000))
            except TopicAlreadyExistsError:
                pass
            except TopicAuthorizationFailedError:
                raise BrokerError(f"{principal(settings)} may not create topic {name!r} on {settings.broker}: "
                                  "create it beforehand (deploy/README.md) or grant CREATE") from None
        try:
            admin.wait_for_topics(list(names), timeout_ms=int(timeout * 1000))
        except KafkaError as exc:
            raise BrokerError(f"topics {names} did not become ready: {exc}") from None
    except KafkaError as exc:
        raise BrokerError(f"cannot create topics {names} on {settings.broker}: {exc}") from None
    finally:
        admin.close()


def principal(settings: Settings) -> str:
    """Who this client is to the broker, for a message that says what it may not do."""
    if settings.sasl_username:
        return f"User:{settings.sasl_username} (MMSTREAM_SASL_USERNAME)"
    return "this client"


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


def consume(settings: Settings, topics: list[str], *,
            until: Callable[[list[Record]], bool], timeout: float,
            group_id: str | None = None, isolation_level: str = "read_uncommitted") -> list[Record]:
    """Read ``topics`` (full names) from the beginning until ``until(records)``
    is true or ``timeout`` seconds pass; everything read, in arrival order.

    Without ``group_id`` all partitions are assigned directly (no consumer
    group); with one the consumer joins that group (offsets are not committed;
    on tansu joining a new group takes about half the session timeout).
    ``isolation_level="read_committed"`` skips records of open and aborted transactions
    (``MMSTREAM_PROCESSING_GUARANTEE=exactly_once``).
    Never raises on timeout: callers compare what they got to what they expected.
    """
    deadline = time.monotonic() + timeout
    consumer = kafka_consumer(settings, "mmstream-reader", group_id=group_id, isolation_level=isolation_level)
    records: list[Record] = []
    try:
        if group_id is None:
            partitions: list[TopicPartition] = []
            for topic in topics:
                ids = consumer.partitions_for_topic(topic)
                while not ids and time.monotonic() < deadline:
                    time.sleep(0.05)
                    ids = consumer.partitions_for_topic(topic)
                partitions += [TopicPartition(topic, p) for p in sorted(ids or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning()
        else:
            consumer.subscribe(topics)
        while not until(records):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            batch = consumer.poll(timeout_ms=int(min(left, 0.2) * 1000))
            for messages in batch.values():
                records += [Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
                            for m in messages]
    finally:
        consumer.close(autocommit=False)
    return records


_admin = admin_client  # transitional: tests/realkafka reads it under its old name
