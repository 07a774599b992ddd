"""An AsyncAPI 3.0 document of mmstream's topics, generated from the JSON Schemas:
``mmstream schemas --asyncapi``. The application it describes is the mmstream
worker: it receives ``posts`` and sends everything else (``mentions`` both
ways, internal)."""
from __future__ import annotations

from typing import Any

from mmstream.kafka import catalogue
from mmstream.kafka.security import authentication, declared_protocol, uses_tls
from mmstream.schemas import INTERNAL, KEYS, TOPICS, load, version
from mmstream.settings import Settings, bootstrap_servers

SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
KAFKA_BINDING = "0.5.0"


def _message_name(topic: str) -> str:
    return {"posts": "post", "enriched": "result", "dead-letter": "deadLetter", "mentions": "mentions",
            "brand-stats": "brandStats", "late": "latePost", "topics": "topicRecord", "alerts": "alert"}[topic]


def _operation_id(action: str, topic: str) -> str:
    return action + "".join(part.capitalize() for part in topic.split("-"))


def _version() -> str:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("mmstream")
    except Exception:  # noqa: BLE001 - a source tree that is not installed
        return "0"


def _server(settings: Settings) -> dict[str, Any]:
    protocol = declared_protocol(settings)
    server: dict[str, Any] = {
        "host": ",".join(bootstrap_servers(settings.broker)),
        "protocol": "kafka-secure" if uses_tls(protocol) else "kafka",
        "description": f"Kafka bootstrap servers (MMSTREAM_BROKER), security {protocol} (MMSTREAM_SECURITY_PROTOCOL)",
    }
    scheme = authentication(settings)
    if scheme is not None:
        server["security"] = [{"$ref": f"#/components/securitySchemes/{scheme}"}]
    return server


def _actions(topic: str) -> list[str]:
    """What the worker does with ``topic``: ``send`` what its parts write, ``receive`` what they read
    (the catalogue's writers and readers)."""
    entry = catalogue.topic(topic)
    parts = set(catalogue.WORKER_PARTS)
    return (["send"] if parts & set(entry.writers) else []) + (["receive"] if parts & set(entry.readers) else [])


def _sasl_scheme(mechanism: str) -> dict[str, str]:
    kind = {"PLAIN": "plain", "SCRAM-SHA-256": "scramSha256", "SCRAM-SHA-512": "scramSha512",
            "GSSAPI": "gssapi"}.get((mechanism or "PLAIN").upper(), "plain")
    return {"type": kind, "description": "MMSTREAM_SASL_MECHANISM, _SASL_USERNAME, _SASL_PASSWORD"}


def asyncapi(settings: Settings | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document for ``settings`` (topic prefix, broker, security)."""
    settings = settings or Settings.load()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS:
        schema = load(topic)
        name = _message_name(topic)
        messages[name] = {
            "name": name,
            "title": schema.get("title", topic),
            "summary": schema.get("description", ""),
            "contentType": "application/json",
            "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": schema},
            "bindings": {"kafka": {"key": {"type": "string", "description": KEYS[topic]},
                                   "bindingVersion": KAFKA_BINDING}},
        }
        if version(topic):
            messages[name]["x-mmstream-schema-version"] = version(topic)
        channels[topic] = {
            "address": settings.topic(topic),
            "title": topic,
            "description": ("internal: " if topic in INTERNAL else "") + f"key: {KEYS[topic]}",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        for action in _actions(topic):  # every worker reads topics, brand-stats, alerts back into its query store
            operations[_operation_id(action, topic)] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{topic}"},
                "messages": [{"$ref": f"#/channels/{topic}/messages/{name}"}],
            }
    doc: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "id": "urn:mmstream:worker",
        "info": {
            "title": "mmstream worker",
            "version": _version(),
            "description": "Real-time multimodal brand intelligence on Kafka: posts in; results, dead letters and "
                           "brand analytics out. Output records carry their schema version in a `schema` field "
                           "(mmstream.<topic>/<major>); additive changes keep the version, consumers ignore fields "
                           "they do not know.",
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": _server(settings)},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
    if authentication(settings) is not None:
        doc["components"]["securitySchemes"] = {
            "sasl": _sasl_scheme(settings.sasl_mechanism),
            "tls": {"type": "X509", "description": "MMSTREAM_SSL_CERTFILE, _SSL_KEYFILE, _SSL_CAFILE"},
        }
    return doc
