"""The one builder of what the pipeline writes: a post's result, or its dead letter.

Every record that leaves mmstream for the enriched or the dead-letter topic is built here:
results (:func:`result_record`), the dead letters of posts that failed a stage
(:func:`dead_letter`: ``score``'s blank lines too), and the small dead letter that replaces an
outcome Kafka refused (:func:`output_failed`: the worker's plain and transactional delivery
both write it). One place, so the fields, their order and their encoding cannot drift apart.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from mmstream.errors import PostError
from mmstream.pipeline.post import usable_id
from mmstream.pipeline.work import Source, WorkItem
from mmstream.schemas import versions as schema_versions

PAYLOAD_KEEP_CHARS = 4096  # the characters of a failed record a dead letter keeps


@dataclass
class Outcome:
    kind: str  # "result" or "dead_letter"
    record: dict[str, Any]
    data: bytes  # the record as compact UTF-8 JSON, what goes on the topic

    @property
    def key(self) -> str | None:
        return self.record.get("id")


def to_json(record: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ValueError (or TypeError, re-raised as ValueError) for
    anything strict JSON cannot hold: NaN, infinity, lone surrogates, objects."""
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except TypeError as exc:
        raise ValueError(str(exc)) from None


# -- results ------------------------------------------------------------------
def result_record(w: WorkItem, model_name: str, text_views: Sequence[str]) -> dict[str, Any]:
    """A scored post's result before the enrichers (they fill ``brands``, ``topics`` and add their keys)."""
    post, prediction = w.post, w.prediction
    assert post is not None and prediction is not None
    return {
        "schema": schema_versions.RESULT,
        "id": post.id,
        "created_at": post.created_at_iso,
        "brands": post.brands,
        **lang_fields(post.lang, w.reports, text_views),
        "sentiment": prediction.sentiment(),
        **prediction.task_fields(),  # complaint {label, prob}, emotion {label, probs}
        "topics": [],
        "modalities": w.reports,
        "model": model_name,
    }


def lang_fields(given: str | None, reports: dict[str, dict[str, Any]], views: Sequence[str]) -> dict[str, Any]:
    """``lang``: the post's own when it says one, else what the text plugin detected in its
    text (or in text read or heard in its media, in the order of ``views``; a view it could
    tell the language of before one it called ``und``); ``lang_source``: given, detected or null."""
    if given:
        return {"lang": given, "lang_source": "given"}
    found = [lang for lang in (reports.get(modality, {}).get("lang") for modality in views) if lang]
    for detected in found:  # a view that names a language wins over an earlier one that could not tell ("und")
        if detected != "und":
            return {"lang": detected, "lang_source": "detected"}
    if found:
        return {"lang": found[0], "lang_source": "detected"}
    return {"lang": None, "lang_source": None}


def outcome_of(w: WorkItem) -> Outcome:
    """``w``'s result, or its dead letter: when a stage failed it, or its record is not JSON."""
    if w.error is None and w.record is not None:
        try:
            return Outcome("result", w.record, to_json(w.record))
        except ValueError as exc:  # NaN, a lone surrogate or an object an enricher left in the record
            w.error = PostError("enrich_error", f"the result is not JSON ({exc}); an enricher put a non-JSON "
                                "value in it: fix that enricher.", "enrich")
    return dead_outcome(w.raw, w.error, w.source, w.obj)


# -- dead letters -------------------------------------------------------------
def dead_letter(raw: Any, error: PostError | None, source: Source | None, obj: Any = None) -> dict[str, Any]:
    """The dead letter of a record that got no result: why (``error``), its payload (cut to
    :data:`PAYLOAD_KEEP_CHARS`), its id when ``obj`` (its JSON) says a usable one, and where it came from."""
    error = error or PostError("internal", "no result and no error; report this as a bug.", "model")
    text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    record: dict[str, Any] = {
        "schema": schema_versions.DEAD_LETTER,
        "id": _known_id(obj),
        "reason": error.reason,
        "detail": error.detail,
        "stage": error.stage,
        "payload": text[:PAYLOAD_KEEP_CHARS],
        "payload_truncated": len(text) > PAYLOAD_KEEP_CHARS,
    }
    if error.trace:
        record["traceback"] = error.trace
    if source is not None:
        record.update(topic=source.topic, partition=source.partition, offset=source.offset)
    return record


def dead_outcome(raw: Any, error: PostError | None, source: Source | None, obj: Any = None) -> Outcome:
    """:func:`dead_letter` as an outcome, encoded."""
    record = dead_letter(raw, error, source, obj)
    try:
        data = to_json(record)
    except ValueError:  # a plugin's detail with a lone surrogate: escape it
        data = json.dumps(record, separators=(",", ":"), default=repr).encode()
    return Outcome("dead_letter", record, data)


def internal_error(exc: Exception) -> PostError:
    """The reason of a post that met a bug in mmstream (not in a plugin, not in the post)."""
    return PostError("internal_error", f"mmstream failed on this post ({exc!r}); report it as a bug with "
                     "this dead letter.", "internal")


def json_for_id(raw: bytes | None, max_bytes: int) -> Any:
    """The record parsed again, for a dead letter's id (None when too big or not JSON)."""
    if raw is None or len(raw) > max_bytes:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def output_failed(outcome: Outcome, error: BaseException) -> Outcome:
    """The small dead letter that replaces an outcome Kafka refused (over the broker's record
    size ...): its id and why, no payload. Encoded as plain ``json.dumps`` (ASCII), as it always was."""
    record = {"schema": schema_versions.DEAD_LETTER, "id": outcome.key, "reason": "output_failed", "stage": "output",
              "detail": f"Kafka refused the {outcome.kind.replace('_', ' ')} ({error!r}); raise the broker's "
                        "message.max.bytes or lower MMSTREAM_MAX_PAYLOAD_BYTES.",
              "payload": "", "payload_truncated": True}
    return Outcome("dead_letter", record, json.dumps(record).encode())


def _known_id(obj: Any) -> str | None:
    """The id of a post that failed, when its JSON still says a usable one."""
    return usable_id(obj.get("id")) if isinstance(obj, dict) else None
