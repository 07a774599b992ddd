"""The one builder of what the pipeline writes (mmstream.pipeline.outcomes): a post's result, the
dead letter of a post that failed a stage (score's blank lines too), and the dead letter that
replaces an outcome Kafka refused (the worker's plain and transactional deliveries both send it)."""
from __future__ import annotations

import ast
import json

from mmstream.errors import PostError
from mmstream.pipeline.outcomes import PAYLOAD_KEEP_CHARS, Outcome, dead_letter, dead_outcome, outcome_of, output_failed
from mmstream.pipeline.work import Source, WorkItem
from paths import REPO


def test_a_dead_letter_says_why_keeps_the_payload_and_where_the_record_came_from():
    raw = json.dumps({"id": "p1", "text": "x" * 5000}).encode()
    error = PostError("too_long", "the text is too long", "validate", "mmstream_text/extractor.py:9 in validate")
    record = dead_letter(raw, error, Source("mmstream.posts", 2, 7), json.loads(raw))
    assert list(record) == ["schema", "id", "reason", "detail", "stage", "payload", "payload_truncated", "traceback",
                            "topic", "partition", "offset"]
    assert (record["schema"], record["id"], record["reason"], record["stage"]) == (
        "mmstream.dead-letter/1", "p1", "too_long", "validate")
    assert record["payload"] == raw.decode()[:PAYLOAD_KEEP_CHARS] and record["payload_truncated"] is True
    assert (record["topic"], record["partition"], record["offset"]) == ("mmstream.posts", 2, 7)


def test_a_dead_letter_names_only_an_id_a_post_may_carry():
    for obj in (None, ["p1"], {"id": ""}, {"id": 5}, {"id": "x" * 300}, {"id": "\ud800"}):
        assert dead_letter(b"{}", PostError("bad_id", "d"), None, obj)["id"] is None
    record = dead_letter(None, None, None)  # no value, and (a bug) no error
    assert (record["reason"], record["payload"], record["payload_truncated"]) == ("internal", "None", False)
    assert "topic" not in record and "traceback" not in record


def test_an_outcome_is_the_result_or_else_the_post_s_dead_letter():
    good = WorkItem(b'{"id": "p1"}', None, record={"id": "p1", "text": "café", "score": 0.5})
    out = outcome_of(good)
    assert (out.kind, out.key, out.data) == ("result", "p1", '{"id":"p1","text":"café","score":0.5}'.encode())
    nan = WorkItem(b'{"id": "p2"}', Source("mmstream.posts", 0, 1), obj={"id": "p2"},
                   record={"id": "p2", "probe": float("nan")})
    out = outcome_of(nan)
    assert (out.kind, out.key) == ("dead_letter", "p2")
    assert (out.record["reason"], out.record["stage"]) == ("enrich_error", "enrich")
    assert json.loads(out.data) == out.record and nan.error is not None
    failed = WorkItem(b"[]", None, error=PostError("not_object", "an array", "validate"), obj=[])
    assert outcome_of(failed).record["reason"] == "not_object"


def test_a_lone_surrogate_in_a_plugin_s_detail_is_escaped_not_lost():
    out = dead_outcome(b"{}", PostError("plugin_error", "it said \ud800", "extract:probe"), None)
    assert out.kind == "dead_letter" and b"\\ud800" in out.data and json.loads(out.data)["stage"] == "extract:probe"


def test_the_dead_letter_of_a_refused_outcome():
    out = output_failed(Outcome("result", {"id": "p1"}, b"{}"), RuntimeError("MessageSizeTooLargeError"))
    assert (out.kind, out.key) == ("dead_letter", "p1")
    assert out.record == {
        "schema": "mmstream.dead-letter/1", "id": "p1", "reason": "output_failed", "stage": "output",
        "detail": "Kafka refused the result (RuntimeError('MessageSizeTooLargeError')); raise the broker's "
                  "message.max.bytes or lower MMSTREAM_MAX_PAYLOAD_BYTES.",
        "payload": "", "payload_truncated": True}
    assert out.data == json.dumps(out.record).encode()  # the bytes the worker has always sent
    assert "dead letter" in output_failed(Outcome("dead_letter", {"id": None}, b""), OSError()).record["detail"]


def test_no_other_module_builds_a_dead_letter():
    """Dead letters were built in three places (the output-failure one twice); only outcomes.py may
    name the dead-letter schema now."""
    builders = []
    for path in sorted((REPO / "mmstream").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            named = (isinstance(node, ast.Attribute) and node.attr == "DEAD_LETTER"
                     and isinstance(node.value, ast.Name) and node.value.id in ("versions", "schema_versions")) or (
                isinstance(node, ast.ImportFrom) and node.module == "mmstream.schemas.versions"
                and any(a.name == "DEAD_LETTER" for a in node.names))
            if named:
                builders.append(str(path.relative_to(REPO)))
    assert sorted(set(builders)) == ["mmstream/pipeline/outcomes.py"]
