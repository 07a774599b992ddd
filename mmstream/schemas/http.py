"""The worker's schema pages: ``GET /schemas`` (the list), ``GET /schemas/<topic>``
(one JSON Schema; the full topic name works too), ``GET /asyncapi`` (the document)."""
from __future__ import annotations

from typing import Any

from mmstream.errors import ConfigError
from mmstream.schemas import INTERNAL, KEYS, TOPICS, load, topic_name, version
from mmstream.settings import Settings

SCHEMA_TYPE = "application/schema+json"


def register_schema_routes(context: Any, settings: Settings) -> None:
    """The pages, added through the worker's context (``context.add_route``)."""

    async def schemas_index(web: Any, request: Any) -> Any:
        return web.json({"schemas": [{"topic": t, "address": settings.topic(t), "version": version(t), "key": KEYS[t],
                                      "internal": t in INTERNAL, "url": f"/schemas/{t}"} for t in TOPICS]})

    async def schema(web: Any, request: Any, topic: str) -> Any:
        try:
            name = topic_name(topic, settings.topic_prefix)
        except ConfigError as exc:
            return web.json({"error": str(exc)}, status=404)
        return web.json(load(name), content_type=SCHEMA_TYPE)

    async def asyncapi_document(web: Any, request: Any) -> Any:
        from mmstream.schemas.asyncapi import asyncapi

        return web.json(asyncapi(settings))

    context.add_route("/schemas", schemas_index, name="schemas_index")
    context.add_route("/schemas/{topic}", schema, name="schemas_topic")
    context.add_route("/asyncapi", asyncapi_document, name="schemas_asyncapi")
