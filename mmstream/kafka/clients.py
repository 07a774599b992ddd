"""mmstream's kafka-python clients, made in one place: bootstrap servers and security
(:func:`mmstream.kafka.security.kafka_python_config`), a connect timeout, and failures that name
the setting to fix (:func:`connecting`). The admin client serves :mod:`mmstream.kafka.admin`;
consumers the read-back, the analytics and dashboard feeds; producers ``mmstream produce``.

Written to work on a real Kafka and on tansu, the embedded broker, so the clients

* never ask the broker for end offsets (tansu's ListOffsets "latest" is wrong after
  multi-record batches);
* do not use the idempotent producer (tansu has no InitProducerId).

The worker itself talks to Kafka through Faust and aiokafka (:mod:`mmstream.kafka.security`).
"""
from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

from mmstream.errors import BrokerError, ConfigError
from mmstream.kafka.catalogue import max_record_bytes
from mmstream.kafka.security import kafka_python_config
from mmstream.settings import Settings

with warnings.catch_warnings():
    # kafka-python 3.x emits a few hundred DeprecationWarnings on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.errors import KafkaError, SaslAuthenticationFailedError

#: seconds to reach the bootstrap servers before giving up (kafka-python: 30)
CONNECT_TIMEOUT = 10.0


def _connect(settings: Settings) -> dict[str, Any]:
    return {**kafka_python_config(settings), "bootstrap_timeout_ms": int(CONNECT_TIMEOUT * 1000)}


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


def principal(settings: Settings) -> str:
    """Who this client is to the broker, for a message that says what it may not do."""
    if settings.sasl_username:
        return f"User:{settings.sasl_username} (MMSTREAM_SASL_USERNAME)"
    return "this client"
