"""mmstream's security settings (``MMSTREAM_SECURITY_PROTOCOL``, ``_SASL_*``, ``_SSL_*``) in the words
of each Kafka client library it uses, translated once per library:

* :func:`kafka_python_config`: kafka-python (admin, produce, read-back, the analytics and dashboard feeds, the sink);
* :func:`aiokafka_config`: aiokafka (transactional producers, the media lane's consumer);
* :func:`faust_credentials`: Faust (the worker's own consumer and producer);
* :func:`authentication`: what the AsyncAPI document says the server asks for.

Every translation checks the protocol and that the TLS files exist, so a typo fails at start,
naming the variable to fix, whichever client is built first.
"""
from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from mmstream.errors import ConfigError
from mmstream.settings import Settings, bootstrap_servers

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
TLS_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")


def declared_protocol(settings: Settings) -> str:
    """``MMSTREAM_SECURITY_PROTOCOL`` in upper case (PLAINTEXT when empty), not checked."""
    return (settings.security_protocol or "PLAINTEXT").upper()


def uses_tls(protocol: str) -> bool:
    return "SSL" in protocol


def uses_sasl(protocol: str) -> bool:
    return protocol.startswith("SASL_")


def checked_protocol(settings: Settings) -> str:
    """The protocol, after checking it is one Kafka knows and that every TLS file that is set exists."""
    protocol = declared_protocol(settings)
    if protocol not in PROTOCOLS:
        raise ConfigError(f"security_protocol {settings.security_protocol!r} is not one of "
                          f"{', '.join(PROTOCOLS)}; set MMSTREAM_SECURITY_PROTOCOL")
    for field in TLS_FILES:
        value = getattr(settings, field)
        if value and not Path(value).is_file():
            raise ConfigError(f"{field} {value!r} does not exist; set MMSTREAM_{field.upper()}")
    return protocol


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """kafka-python keyword arguments: bootstrap servers and security. Only settings that apply and
    are non-empty are passed: SASL fields for the ``SASL_*`` protocols, TLS files whenever they are set."""
    protocol = checked_protocol(settings)
    config: dict[str, Any] = {"bootstrap_servers": bootstrap_servers(settings.broker), "security_protocol": protocol}
    if uses_sasl(protocol):
        for field, key in (("sasl_mechanism", "sasl_mechanism"), ("sasl_username", "sasl_plain_username"),
                           ("sasl_password", "sasl_plain_password")):
            if getattr(settings, field):
                config[key] = getattr(settings, field)
    for field in TLS_FILES:
        if getattr(settings, field):
            config[field] = getattr(settings, field)
    return config


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of aiokafka and Faust: the CA of ``MMSTREAM_SSL_CAFILE`` (the system's when
    empty), and the client certificate when ``MMSTREAM_SSL_CERTFILE`` is set."""
    context = ssl.create_default_context(cafile=settings.ssl_cafile or None)
    if settings.ssl_certfile:
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile or None)
    return context


def aiokafka_config(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments: bootstrap servers and security."""
    protocol = checked_protocol(settings)
    config: dict[str, Any] = {"bootstrap_servers": bootstrap_servers(settings.broker), "security_protocol": protocol}
    if uses_tls(protocol):
        config["ssl_context"] = ssl_context(settings)
    if uses_sasl(protocol):
        config.update(sasl_mechanism=settings.sasl_mechanism, sasl_plain_username=settings.sasl_username,
                      sasl_plain_password=settings.sasl_password)
    return config


def faust_credentials(settings: Settings) -> Any:
    """Faust's ``broker_credentials`` (None for PLAINTEXT)."""
    protocol = checked_protocol(settings)
    if protocol == "PLAINTEXT":
        return None
    import faust

    context = ssl_context(settings) if uses_tls(protocol) else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=settings.sasl_username, password=settings.sasl_password,
                                 mechanism=settings.sasl_mechanism, ssl_context=context)


def authentication(settings: Settings) -> str | None:
    """How a client proves who it is, for the AsyncAPI document: ``sasl`` for the ``SASL_*``
    protocols, ``tls`` for SSL with a client certificate, None otherwise. Not checked: the
    document describes the settings as they are."""
    protocol = declared_protocol(settings)
    if uses_sasl(protocol):
        return "sasl"
    if protocol == "SSL" and settings.ssl_certfile:
        return "tls"
    return None
