"""Enrichers and sinks get a read-only mmstream.plugin.Item, never the engine's WorkItem: nothing an
item hands out changes the engine's item, and ``item.add`` is the one door into the result."""
from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timezone
from operator import setitem

import numpy as np
import pytest

from mmstream.pipeline.post import Post
from mmstream.pipeline.work import Source, WorkItem
from mmstream.plugin import Enricher, Item, PostView, Sink


def work() -> WorkItem:
    post = Post("p1", datetime(2026, 12, 6, tzinfo=timezone.utc), {"text": "hello"}, author="ann", brands=["acme"])
    w = WorkItem(b"{}", Source("mmstream.posts", 0, 3), post=post, values={"text": "hello", "image_text": "SALE"},
                 features={"text": np.ones(4, dtype=np.float32)}, text_views=("text", "image_text", "audio_text"))
    w.record = {"id": "p1", "brands": ["acme"], "sentiment": {"label": "positive", "probs": [0.1, 0.9]}, "topics": []}
    return w


def test_an_item_shows_what_enrichers_and_sinks_read():
    w = work()
    item = Item(w)
    assert (item.id, item.source) == ("p1", Source("mmstream.posts", 0, 3))
    assert item.post == PostView("p1", w.post.created_at, {"text": "hello"}, None, "ann", None, ("acme",))
    assert item.texts() == {"text": "hello", "image_text": "SALE"}
    assert item.text_views == ("text", "image_text", "audio_text") and item.values["image_text"] == "SALE"
    assert item.features["text"].tolist() == [1.0] * 4
    assert item.record == w.record and json.dumps(item.record) == json.dumps(w.record)


def test_nothing_an_item_hands_out_changes_the_engine_s_item():
    w = work()
    before = copy.deepcopy(w.record)
    item = Item(w)
    attempts = {
        "a key": lambda: setitem(item.record, "urgent", True),
        "update": lambda: item.record.update(urgent=True),
        "pop": lambda: item.record.pop("id"),
        "a nested list": lambda: item.record["brands"].append("evil"),
        "a nested dict": lambda: setitem(item.record["sentiment"], "label", "negative"),
        "a list in a dict": lambda: setitem(item.record["sentiment"]["probs"], 0, 1.0),
        "the values": lambda: setitem(item.values, "text", "changed"),
        "the post's values": lambda: setitem(item.post.modalities, "text", "changed"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(TypeError):
            attempt()
            pytest.fail(f"changing {what} went through")
    with pytest.raises(ValueError, match="read-only"):
        item.features["text"][0] = 5.0
    with pytest.raises(AttributeError, match=r"item\.add"):
        item.record = {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.post.id = "p2"  # type: ignore[misc]
    assert w.record == before and w.values["text"] == "hello" and w.post.modalities == {"text": "hello"}
    assert w.features["text"][0] == 1.0 and w.post.id == "p1"


def test_add_puts_a_key_in_the_result_in_its_place():
    w = work()
    item = Item(w)
    read_before = item.record
    item.add("brands", ["acme", "nimbus"])
    item.add("emoji", {"count": 2})
    assert list(w.record) == ["id", "brands", "sentiment", "topics", "emoji"]  # replaced in place, a new key last
    assert item.record["brands"] == ["acme", "nimbus"] and item.record["emoji"] == {"count": 2}
    assert read_before["brands"] == ["acme"]  # a copy read earlier stays as it was
    with pytest.raises(TypeError, match=r"item\.add\(key, value\)"):
        item.record["emoji"] = {"count": 3}


def test_a_copy_of_the_result_is_plain_and_the_item_s_stays():
    item = Item(work())
    mine = copy.deepcopy(item.record)
    mine["brands"].append("nimbus")
    mine["urgent"] = True
    assert type(mine) is dict and type(mine["brands"]) is list and type(dict(item.record)) is dict
    assert item.record["brands"] == ["acme"] and "urgent" not in item.record


def test_done_is_the_retry_s_bookkeeping():
    w = work()
    item = Item(w)
    item.mark_done("emoji")
    assert item.done == {"emoji"} and w.done == {"emoji"}
    with pytest.raises(AttributeError):
        item.done.add("topics")  # type: ignore[attr-defined]


def test_through_the_pipeline_an_enricher_adds_and_cannot_write_into_the_result(mmstream_pipeline, monkeypatch):
    """An enricher written for the old mutable item is dead-lettered at its stage with the fix
    named; one using ``item.add`` puts its key last; a sink sees the final result, read-only."""
    seen: list[tuple[str, dict]] = []

    class Adds(Enricher):
        name = "adds"

        def enrich_item(self, item):
            item.add("shout", item.values["text"].upper())

    class Writes(Enricher):
        name = "writes"

        def enrich_item(self, item):
            if item.id == "p1":
                item.record["shout"] = "no"

    class Keeps(Sink):
        name = "keeps"

        def write(self, items):
            for item in items:
                with pytest.raises(TypeError):
                    item.record["late"] = 1
                seen.append((item.id, dict(item.record)))

    monkeypatch.setattr(mmstream_pipeline, "enrichers", [Adds(), Writes()])
    monkeypatch.setattr(mmstream_pipeline, "sinks", [Keeps()])
    posts = [json.dumps({"id": f"p{i}", "created_at": 0, "text": f"post {i}"}).encode() for i in range(3)]
    outcomes = mmstream_pipeline.process([(raw, None) for raw in posts])
    assert [o.kind for o in outcomes] == ["result", "dead_letter", "result"]
    assert outcomes[1].record["stage"] == "enrich:writes" and "item.add(key, value)" in outcomes[1].record["detail"]
    assert list(outcomes[0].record)[-1] == "shout" and outcomes[2].record["shout"] == "POST 2"
    assert [(i, r) for i, r in seen] == [("p0", outcomes[0].record), ("p2", outcomes[2].record)]
