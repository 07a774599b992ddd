"""The tables the database sinks write, and the rows of each output topic's records.

Dialect-neutral: a column has a logical type (text, time, float, int, bool, json)
that each database maps to its own (:class:`~mmstream.sinks.sql.SqlStore`). Every
table's primary key is the record key, so writing a record again changes nothing.
``record`` columns keep the whole value (fields added later included).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmstream.client.reader import Message


@dataclass(frozen=True)
class Table:
    name: str  # without the prefix
    columns: tuple[tuple[str, str], ...]  # (name, logical type)
    key: tuple[str, ...]


RESULTS = Table("results", (
    ("id", "text"), ("created_at", "time"), ("lang", "text"), ("sentiment_label", "text"),
    ("sentiment_score", "float"), ("p_negative", "float"), ("p_neutral", "float"), ("p_positive", "float"),
    ("complaint", "bool"), ("complaint_score", "float"), ("model", "text"), ("schema", "text"), ("record", "json"),
    ("lang_source", "text"), ("emotion", "text"), ("duplicate_of", "text"), ("campaign_id", "text")),
    ("id",))  # columns added later go last: ALTER TABLE adds them
RESULT_BRANDS = Table("result_brands", (("id", "text"), ("brand", "text")), ("id", "brand"))
RESULT_TOPICS = Table("result_topics", (
    ("id", "text"), ("topic_id", "text"), ("kind", "text"), ("label", "text"), ("score", "float")), ("id", "topic_id"))
DEAD_LETTERS = Table("dead_letters", (
    ("key", "text"), ("id", "text"), ("reason", "text"), ("stage", "text"), ("detail", "text"), ("payload", "text"),
    ("payload_truncated", "bool"), ("source_topic", "text"), ("source_partition", "int"), ("source_offset", "int"),
    ("schema", "text"), ("record", "json")), ("key",))
BRAND_STATS = Table("brand_stats", (
    ("key", "text"), ("brand", "text"), ("window_name", "text"), ("window_start", "time"), ("window_end", "time"),
    ("window_size", "float"), ("window_step", "float"), ("closed", "bool"), ("posts", "int"), ("negative", "int"),
    ("neutral", "int"), ("positive", "int"), ("mean_score", "float"), ("share_of_voice", "float"),
    ("mentions_in_window", "int"), ("top_topics", "json"), ("schema", "text"), ("record", "json"),
    ("complaints", "int"), ("complaint_share", "float"), ("duplicates", "int"), ("campaign_posts", "int"),
    ("excluded", "int")),  # columns added later go last: ALTER TABLE adds them
    ("key",))
LATE_POSTS = Table("late_posts", (
    ("id", "text"), ("created_at", "time"), ("watermark", "time"), ("brands", "json"), ("sentiment_label", "text"),
    ("sentiment_score", "float"), ("missed", "json"), ("counted_in", "json"), ("schema", "text"), ("record", "json")),
    ("id",))
TOPICS = Table("topics", (
    ("id", "text"), ("type", "text"), ("label", "text"), ("keywords", "json"), ("posts", "int"), ("status", "text"),
    ("merged_into", "text"), ("born_at", "time"), ("last_seen", "time"), ("schema", "text"), ("record", "json")),
    ("id",))
ALERTS = Table("alerts", (
    ("id", "text"), ("kind", "text"), ("subject_type", "text"), ("subject_id", "text"), ("subject_label", "text"),
    ("window_start", "time"), ("window_end", "time"), ("baseline_start", "time"), ("baseline_end", "time"),
    ("posts", "int"), ("expected_posts", "float"), ("ratio", "float"), ("z", "float"), ("negative_share", "float"),
    ("example_post_ids", "json"), ("schema", "text"), ("record", "json")), ("id",))
REJECTS = Table("rejects", (
    ("key", "text"), ("topic", "text"), ("kafka_partition", "int"), ("kafka_offset", "int"), ("error", "text"),
    ("value", "text")), ("key",))

#: output topic -> the tables its records go to (the first holds one row per record)
TOPIC_TABLES: dict[str, tuple[Table, ...]] = {
    "enriched": (RESULTS, RESULT_BRANDS, RESULT_TOPICS), "dead-letter": (DEAD_LETTERS,),
    "brand-stats": (BRAND_STATS,), "late": (LATE_POSTS,), "topics": (TOPICS,), "alerts": (ALERTS,),
}
ALL_TABLES = tuple(t for tables in TOPIC_TABLES.values() for t in tables) + (REJECTS,)

Rows = dict[str, list[dict[str, Any]]]  # table name -> rows


def record_key(m: Message) -> str:
    """The primary key of a message's row: its Kafka key, or what stands in for a missing one."""
    if m.key is not None:
        return m.key
    key = getattr(m.record, "key", None)  # a dead letter without a usable id
    return key if isinstance(key, str) else f"{m.topic}:{m.partition}:{m.offset}"


def _complaint(value: dict) -> tuple[bool | None, float | None]:
    """The model's complaint flag and probability, in whichever shape the result carries them."""
    c = value.get("complaint")
    flag = score = None
    if isinstance(c, bool):
        flag = c
    elif isinstance(c, (int, float)):
        score = float(c)
    elif isinstance(c, dict):
        flag = next((c[k] for k in ("complaint", "flag", "label", "is_complaint", "value") if isinstance(c.get(k), bool)),
                    None)
        score = next((float(c[k]) for k in ("score", "probability", "prob", "p")
                      if isinstance(c.get(k), (int, float)) and not isinstance(c.get(k), bool)), None)
    if score is None and isinstance(value.get("complaint_score"), (int, float)):
        score = float(value["complaint_score"])
    return flag, score


def _label(value: Any) -> str | None:
    """``{"label": "anger", ...}`` -> ``"anger"``; a plain string as it is."""
    if isinstance(value, dict):
        value = value.get("label")
    return value if isinstance(value, str) else None


def rows_of(m: Message) -> Rows:
    """The rows of one message (its record parsed), by table name."""
    v, key = m.value, record_key(m)
    if m.topic == "enriched":
        s = v.get("sentiment") or {}  # null: the model read nothing of the post
        probs = s.get("probs") or {}
        flag, score = _complaint(v)
        return {"results": [{"id": key, "created_at": v["created_at"], "lang": v.get("lang"),
                             "sentiment_label": s.get("label"), "sentiment_score": s.get("score"),
                             "p_negative": probs.get("negative"), "p_neutral": probs.get("neutral"),
                             "p_positive": probs.get("positive"), "complaint": flag, "complaint_score": score,
                             "model": v["model"], "schema": v.get("schema"), "record": v,
                             "lang_source": v.get("lang_source"), "emotion": _label(v.get("emotion")),
                             "duplicate_of": v.get("duplicate_of"),
                             "campaign_id": (v.get("campaign") or {}).get("id")}],
                "result_brands": [{"id": key, "brand": b} for b in dict.fromkeys(v["brands"])],
                "result_topics": [{"id": key, "topic_id": t["id"], "kind": t["kind"], "label": t["label"],
                                   "score": t.get("score")} for t in {t["id"]: t for t in v["topics"]}.values()]}
    if m.topic == "dead-letter":
        return {"dead_letters": [{"key": key, "id": v.get("id"), "reason": v["reason"], "stage": v["stage"],
                                  "detail": v["detail"], "payload": v["payload"],
                                  "payload_truncated": v["payload_truncated"], "source_topic": v.get("topic"),
                                  "source_partition": v.get("partition"), "source_offset": v.get("offset"),
                                  "schema": v.get("schema"), "record": v}]}
    if m.topic == "brand-stats":
        w, labels = v["window"], v["labels"]
        return {"brand_stats": [{"key": key, "brand": v["brand"], "window_name": w["name"], "window_start": w["start"],
                                 "window_end": w["end"], "window_size": w["size"], "window_step": w["step"],
                                 "closed": v["closed"], "posts": v["posts"], "negative": labels.get("negative"),
                                 "neutral": labels.get("neutral"), "positive": labels.get("positive"),
                                 "mean_score": v["mean_score"], "share_of_voice": v["share_of_voice"],
                                 "mentions_in_window": v["mentions_in_window"], "top_topics": v["top_topics"],
                                 "schema": v.get("schema"), "record": v, "complaints": v.get("complaints"),
                                 "complaint_share": v.get("complaint_share"), "duplicates": v.get("duplicates"),
                                 "campaign_posts": v.get("campaign_posts"), "excluded": v.get("excluded")}]}
    if m.topic == "late":
        s = v.get("sentiment") or {}
        return {"late_posts": [{"id": key, "created_at": v["created_at"], "watermark": v["watermark"],
                                "brands": v["brands"], "sentiment_label": s.get("label"), "sentiment_score": s.get("score"),
                                "missed": v["missed"], "counted_in": v["counted_in"], "schema": v.get("schema"),
                                "record": v}]}
    if m.topic == "topics":
        return {"topics": [{"id": key, "type": v["type"], "label": v.get("label"), "keywords": v.get("keywords"),
                            "posts": v.get("posts"), "status": v.get("status"), "merged_into": v.get("merged_into"),
                            "born_at": v.get("born_at"), "last_seen": v.get("last_seen"), "schema": v.get("schema"),
                            "record": v}]}
    if m.topic == "alerts":
        f, subject = v["figures"], v["subject"]
        return {"alerts": [{"id": key, "kind": v["kind"], "subject_type": subject["type"], "subject_id": subject["id"],
                            "subject_label": subject["label"], "window_start": v["window"]["start"],
                            "window_end": v["window"]["end"], "baseline_start": v["baseline"]["start"],
                            "baseline_end": v["baseline"]["end"], "posts": f["posts"],
                            "expected_posts": f["expected_posts"], "ratio": f.get("ratio"), "z": f["z"],
                            "negative_share": f.get("negative_share"), "example_post_ids": v["example_post_ids"],
                            "schema": v.get("schema"), "record": v}]}
    raise ValueError(f"no tables for topic {m.topic!r}")


def reject_row(m: Message) -> dict[str, Any]:
    raw = m.raw.decode("utf-8", errors="backslashreplace") if m.raw is not None else None
    return {"key": f"{m.topic}:{m.partition}:{m.offset}", "topic": m.topic, "kafka_partition": m.partition,
            "kafka_offset": m.offset, "error": str(m.error), "value": raw}
