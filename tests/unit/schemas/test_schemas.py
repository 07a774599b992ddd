"""The schema files and the AsyncAPI document, without a broker (the records of
real runs are checked in tests/integration/test_downstream.py)."""
from __future__ import annotations

import gzip
import json

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from mmstream import schemas
from mmstream.client.records import RECORD_TYPES
from mmstream.errors import ConfigError, SchemaError
from mmstream.schemas.asyncapi import asyncapi
from mmstream.schemas.versions import VERSIONS
from mmstream.settings import Settings
from paths import TEST_DATA

ASYNCAPI_SPEC = TEST_DATA / "asyncapi-3.0.0.schema.json.gz"


def test_every_topic_has_a_valid_draft_2020_12_schema_naming_its_version():
    assert set(schemas.TOPICS) == set(VERSIONS) | {"posts", "mentions"} and set(RECORD_TYPES) == set(schemas.OUTPUTS)
    for topic in schemas.TOPICS:
        schema = schemas.load(topic)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
        assert schema["title"] == (VERSIONS.get(topic) or f"mmstream.{topic}/1")
        if topic in VERSIONS:
            assert schema["properties"]["schema"] == {"const": VERSIONS[topic]} and "schema" in schema["required"]
    assert schemas.topic_name("mmstream.alerts") == "alerts" and schemas.topic_name("x.alerts", "x.") == "alerts"
    with pytest.raises(ConfigError, match="the topics are"):
        schemas.load("results")


def test_a_record_of_a_version_this_mmstream_does_not_know_is_refused():
    assert schemas.check_version("alerts", {"schema": "mmstream.alerts/1"}) == 1
    assert schemas.check_version("alerts", {}) == 1  # written before versions existed
    for wrong in ("mmstream.alerts/2", "mmstream.enriched/1", "alerts-1"):
        with pytest.raises(SchemaError):
            schemas.check_version("alerts", {"schema": wrong})


@pytest.mark.parametrize("security", ["PLAINTEXT", "SASL_SSL", "SSL"])
def test_the_asyncapi_document_is_valid_asyncapi_3(security, tmp_path):
    spec = json.loads(gzip.decompress(ASYNCAPI_SPEC.read_bytes()))
    extra = {}
    if security == "SSL":
        cert = tmp_path / "client.pem"
        cert.write_text("not checked here")
        extra = {"ssl_certfile": str(cert)}
    doc = json.loads(json.dumps(asyncapi(Settings.load(security_protocol=security, sasl_mechanism="SCRAM-SHA-512",
                                                       topic_prefix="acme.", **extra))))
    assert list(Draft7Validator(spec).iter_errors(doc)) == []
    assert doc["channels"]["enriched"]["address"] == "acme.enriched"
    assert doc["servers"]["kafka"]["protocol"] == ("kafka" if security == "PLAINTEXT" else "kafka-secure")
    broken = json.loads(json.dumps(doc))
    broken["operations"]["receivePosts"]["action"] = "publish"  # AsyncAPI 2's word: not valid in 3
    assert list(Draft7Validator(spec).iter_errors(broken))
