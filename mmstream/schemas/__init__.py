"""JSON Schemas (draft 2020-12) of every topic mmstream reads or writes.

The files beside this module, ``<topic>.json``, are the contract; ``load``
returns one, ``validate`` checks a record against it (with ``jsonschema``),
:mod:`mmstream.schemas.asyncapi` turns them into an AsyncAPI 3 document.
Output records carry their version in a ``schema`` field
(:mod:`mmstream.schemas.versions`). Compatibility: adding an optional field
keeps the version (consumers ignore fields they do not know, so the schemas
allow additional properties); removing, renaming or retyping a field bumps it.
"""
from __future__ import annotations

import copy
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from mmstream.errors import ConfigError, SchemaError
from mmstream.kafka import catalogue
from mmstream.schemas.versions import VERSIONS, split

HERE = Path(__file__).resolve().parent
#: every topic with a schema of its own (name after the prefix), from the topic catalogue
#: (:mod:`mmstream.kafka.catalogue`): what mmstream reads, writes, and uses inside
INPUTS = catalogue.names(contract="input")
OUTPUTS = catalogue.names(contract="output")
INTERNAL = catalogue.names(contract="internal")
TOPICS = INPUTS + OUTPUTS + INTERNAL
#: what a record's key is, per topic
KEYS = {name: catalogue.topic(name).key for name in TOPICS}

__all__ = ["INPUTS", "INTERNAL", "KEYS", "OUTPUTS", "TOPICS", "VERSIONS", "errors", "load", "topic_name",
           "validate", "version"]


def topic_name(topic: str, prefix: str = "mmstream.") -> str:
    """``enriched``, or a full name such as ``mmstream.enriched``, -> ``enriched``;
    ConfigError naming the known topics otherwise."""
    name = topic[len(prefix):] if prefix and topic.startswith(prefix) and topic[len(prefix):] in TOPICS else topic
    if name not in TOPICS:
        raise ConfigError(f"no schema for topic {topic!r}; the topics are {', '.join(TOPICS)}")
    return name


@lru_cache(maxsize=None)
def _read(name: str) -> dict[str, Any]:
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


def load(topic: str) -> dict[str, Any]:
    """The JSON Schema of ``topic`` (a copy: change it freely)."""
    return copy.deepcopy(_read(topic_name(topic)))


def version(topic: str) -> str | None:
    """The version string records of ``topic`` carry (None for posts and mentions)."""
    return VERSIONS.get(topic_name(topic))


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type is checked elsewhere
    if "T" not in value.upper():
        return False
    return datetime.fromisoformat(value).tzinfo is not None  # ValueError: not ISO-8601


@lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    try:
        from jsonschema import Draft202012Validator, FormatChecker
    except ImportError:  # pragma: no cover - an install without it
        raise ConfigError("validating records needs jsonschema: pip install jsonschema") from None
    checker = FormatChecker(formats=())
    checker.checks("date-time", raises=ValueError)(_date_time)
    schema = _read(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=checker)


def errors(topic: str, record: Any) -> list[str]:
    """What is wrong with ``record`` for ``topic``: one line per problem, empty when it is valid."""
    found = sorted(_validator(topic_name(topic)).iter_errors(record), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in found]


def validate(topic: str, record: Any) -> None:
    """Raise :class:`SchemaError` when ``record`` does not match the schema of ``topic``."""
    problems = errors(topic, record)
    if problems:
        raise SchemaError(f"record does not match {version(topic) or topic}: " + "; ".join(problems[:5]))


def check_version(topic: str, value: Any) -> int:
    """The major version of a record's ``schema`` field (1 when absent: records from
    before versions were stamped); SchemaError when it names another topic or a
    version this mmstream does not know (upgrade mmstream to read it)."""
    name = topic_name(topic)
    stamped = value.get("schema") if isinstance(value, dict) else None
    if stamped is None:
        return 1
    try:
        of, major = split(str(stamped))
    except ValueError as exc:
        raise SchemaError(str(exc)) from None
    known = VERSIONS.get(name)
    known_major = split(known)[1] if known else None
    if of != name or major != known_major:
        raise SchemaError(f"a {stamped!r} record on {name}: this mmstream reads {known}; "
                          "upgrade mmstream (pip install -U mmstream) to read it")
    return major
