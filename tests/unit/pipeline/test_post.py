"""Pure logic: decoding and validating posts (no models, no Kafka)."""
from __future__ import annotations

import json

import pytest

from mmstream.errors import PostError
from mmstream.pipeline.post import iso_utc, parse_created_at, parse_json, validate_post

VALIDATORS = {"text": lambda m, v: v}


def reason(raw: bytes) -> str:
    with pytest.raises(PostError) as info:
        validate_post(parse_json(raw, 1000), VALIDATORS)
    return info.value.reason


@pytest.mark.parametrize("raw, expected", [
    (b"\xff\xfe not utf8", "not_json"),
    (b"{not json", "not_json"),
    (b"[1, 2]", "not_object"),
    (b'{"created_at": 0, "text": "x"}', "missing_id"),
    (b'{"id": "", "created_at": 0, "text": "x"}', "missing_id"),
    (b'{"id": 7, "created_at": 0, "text": "x"}', "wrong_type"),
    (b'{"id": "a", "text": "x"}', "missing_created_at"),
    (b'{"id": "a", "created_at": "yesterday", "text": "x"}', "bad_created_at"),
    (b'{"id": "a", "created_at": "2026-11-28T09:00:00", "text": "x"}', "bad_created_at"),
    (b'{"id": "a", "created_at": 0, "brands": "acme", "text": "x"}', "wrong_type"),
    (b'{"id": "a", "created_at": 0, "lang": 5, "text": "x"}', "wrong_type"),
    (b'{"id": "a", "created_at": 0}', "no_modality"),
    (b'{"id": "a", "created_at": 0, "audio": "x"}', "unknown_modality"),
    (b"x" * 2000, "payload_too_large"),
])
def test_bad_posts_get_reasons(raw: bytes, expected: str) -> None:
    assert reason(raw) == expected


def test_good_post_is_normalised() -> None:
    raw = json.dumps({"id": "p1", "created_at": "2026-11-28T10:00:00+01:00", "text": "hi",
                      "brands": ["acme", "acme"], "lang": "en"}).encode()
    post = validate_post(parse_json(raw, 1000), VALIDATORS)
    assert post.id == "p1" and post.brands == ["acme"] and post.modalities == {"text": "hi"}
    assert post.created_at_iso == "2026-11-28T09:00:00Z"


def test_created_at_forms_agree() -> None:
    assert iso_utc(parse_created_at(1764320400)) == iso_utc(parse_created_at("2025-11-28T09:00:00Z"))
    assert iso_utc(parse_created_at(1764320400.25)).endswith(".250Z")


def test_decode_errors_have_stage_decode_and_actionable_detail() -> None:
    with pytest.raises(PostError) as info:
        parse_json(b"{oops", 1000)
    assert info.value.stage == "decode" and "JSON" in info.value.detail
