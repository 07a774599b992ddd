"""The mentions log's record format: a micro-batch's mentions, one JSON object per line."""
from __future__ import annotations

import numpy as np

from mmstream.analytics.engine import events
from mmstream.analytics.engine.events import Mention, TopicRef, decode_mentions, encode_mentions


def mention(i: int, text: str = "plain") -> Mention:
    vec = np.zeros(384, dtype=np.float32)
    vec[i % 384] = 1.0
    return Mention(id=f"p{i}", t=1_700_000_000.0 + i, brands=["acme"], label="positive", score=0.5,
                   topics=[TopicRef("m-1", "mined", "label")], vec=vec, text=text)


def test_mentions_round_trip_one_per_line_even_with_newlines_in_text():
    batch = [mention(0, "line one\nline two\r\n\u2028 end"), mention(1), mention(2, "")]
    records = encode_mentions(batch)
    assert len(records) == 1
    lines = decode_mentions(records[0])
    back = [Mention.from_json(line) for line in lines]
    assert [m.id for m in back] == ["p0", "p1", "p2"]
    assert back[0].text == batch[0].text and back[1].topics == batch[1].topics
    assert np.array_equal(back[2].vec, batch[2].vec)


def test_large_batches_are_split_into_records_of_bounded_size(monkeypatch):
    monkeypatch.setattr(events, "RECORD_BYTES", 4000)
    batch = [mention(i, "x" * 500) for i in range(20)]
    records = encode_mentions(batch)
    assert len(records) > 1 and all(len(r) <= 4000 for r in records)
    ids = [Mention.from_json(line).id for r in records for line in decode_mentions(r)]
    assert ids == [m.id for m in batch]  # every mention once, in order


def test_a_mention_larger_than_a_record_still_gets_one(monkeypatch):
    monkeypatch.setattr(events, "RECORD_BYTES", 1500)
    big = mention(0, "y" * 900)
    assert len(big.to_json()) > 1500
    records = encode_mentions([mention(1), big, mention(2)])
    assert [len(decode_mentions(r)) for r in records] == [1, 1, 1]
    assert encode_mentions([]) == []
