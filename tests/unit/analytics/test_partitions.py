"""Partitioned analytics, pure logic: routing by brand, engines per partition, the share-of-voice
stage. Four engine partitions fed the way workers feed them give exactly the brand windows of one
engine that sees everything (counts, labels, mean score, share of voice, complaints)."""
from __future__ import annotations

import random

import numpy as np
import pytest

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.events import Mention, TopicRef, decode_mentions
from mmstream.analytics.engine.routing import TOPIC_PARTITION, engine_partition, read_progress, route, split
from mmstream.analytics.engine.share import ShareStage
from mmstream.settings import Settings

T0 = 1_764_320_400.0
BRANDS = [f"brand{i}" for i in range(12)]


def posts(n: int, seed: int = 3) -> list[Mention]:
    rng = random.Random(seed)
    vecs = np.random.default_rng(seed).normal(size=(n, 384)).astype(np.float32)
    out = []
    for i in range(n):
        brands = rng.sample(BRANDS, rng.choice([0, 1, 1, 1, 2]))
        label = rng.choice(["negative", "neutral", "positive"])
        if 2000 <= i < 2200:  # a burst of negative posts on one brand: alerts
            brands, label = ["brand0"], "negative"
        out.append(Mention(f"p{i}", T0 + i * 0.9 + rng.uniform(-3, 3), brands, label, rng.uniform(-1, 1),
                           [TopicRef(f"c{i % 5}", "category", f"c{i % 5}")], vecs[i] / np.linalg.norm(vecs[i]),
                           f"word{i % 7} other{i % 3}", src=i % 4, pt=T0 + i * 0.01,
                           complaint=rng.random() < 0.3 if i % 10 else None))
    return out


def run(stream: list[Mention], partitions: int, settings: Settings, order_seed: int = 0) -> tuple[dict, list]:
    """Batches of 32 routed like the publisher routes them; each partition's records processed in
    order, partitions interleaved at random (as workers and the stage's input interleave)."""
    settings = settings.replace(analytics_partitions=partitions)
    engines = {p: AnalyticsEngine(settings, p) for p in range(partitions)}
    queues: dict[int, list] = {p: [] for p in range(partitions)}
    for first in range(0, len(stream), 32):
        for p, value in route(stream[first:first + 32], partitions):
            queues[p].append(value)
    rng = random.Random(order_seed)
    stage = ShareStage(engines[0].specs)
    stats: dict = {}
    others: list = []
    while any(queues.values()):
        p = rng.choice([q for q in queues if queues[q]])
        value = queues[p].pop(0)
        outputs = []
        for line in decode_mentions(value):
            outputs += engines[p].process(Mention.from_json(line))
        progress = read_progress(value)
        if progress:
            outputs += engines[p].advance(progress)
        for out in outputs:
            if out.topic == "window-totals":
                for record in stage.observe(out.value):
                    assert record.key not in stats, record.key  # each brand window written once
                    stats[record.key] = record.value
            else:
                others.append(out)
    return stats, others


@pytest.fixture
def settings() -> Settings:
    return Settings.load(window_tumbling=60, window_hopping=300, window_hop=60, window_grace=5, topic_warmup=20,
                         alert_min_posts=5, alert_recent=300, alert_baseline=1200)


def test_four_engine_partitions_give_the_brand_windows_of_one_engine(settings):
    stream = posts(3000)
    one, one_other = run(stream, 1, settings)
    four, four_other = run(stream, 4, settings, order_seed=1)
    assert len(one) > 500 and one.keys() == four.keys()
    for key, record in one.items():
        assert four[key] == record, key  # posts, labels, mean score, share of voice, complaints, top topics
    assert {r["brand"] for r in one.values()} == set(BRANDS)
    assert any(r["complaints"] for r in one.values()) and all(
        r["complaint_share"] is None or 0 <= r["complaint_share"] <= 1 for r in one.values())
    alerts = lambda others: sorted((o.key, str(o.value)) for o in others if o.topic == "alerts")  # noqa: E731
    assert alerts(one_other) and alerts(one_other) == alerts(four_other)  # brand alerts where their brand is
    # late posts and topic records are the same too; topics are mined on one partition only
    assert sorted(o.key for o in one_other if o.topic == "late") == sorted(o.key for o in four_other if o.topic == "late")
    assert [o.value for o in one_other if o.topic == "topics"] == [o.value for o in four_other if o.topic == "topics"]


def test_share_of_voice_sums_to_one_per_window(settings):
    stats, _ = run(posts(1500), 4, settings, order_seed=2)
    windows: dict = {}
    for key, r in stats.items():
        windows.setdefault((r["window"]["name"], r["window"]["start"]), []).append(r)
    for records in windows.values():
        assert sum(r["share_of_voice"] for r in records) == pytest.approx(1.0, abs=1e-6)
        assert {r["mentions_in_window"] for r in records} == {sum(r["posts"] for r in records)}


def test_a_post_gives_one_mention_per_partition_and_one_mining_copy():
    m = Mention("x", T0, ["a", "b", "c", "d", "e"], "neutral", 0.0, vec=np.ones(4, np.float32), text="words")
    copies = split(m, 4)
    assert sorted(b for c in copies.values() for b in c.brands) == sorted(m.brands)
    assert all(engine_partition(b, 4) == p for p, c in copies.items() for b in c.brands)
    assert [p for p, c in copies.items() if c.mine] == [TOPIC_PARTITION]
    assert copies[TOPIC_PARTITION].post_brands == m.brands and copies[TOPIC_PARTITION].vec is not None
    assert all(c.vec is None and c.text == "" for p, c in copies.items() if p != TOPIC_PARTITION)
    assert split(m, 1) == {0: m}
    assert engine_partition("acme", 4) == engine_partition("acme", 4) == 2  # CRC-32: the same in every process


def test_every_partition_gets_each_batch_progress():
    batch = [Mention(f"p{i}", T0 + i, ["acme"], "neutral", 0.0, src=i % 2, pt=T0) for i in range(6)]
    records = route(batch, 4)
    assert sorted({p for p, _ in records}) == [0, 1, 2, 3]
    marks = [m for _, v in records if (m := read_progress(v))]
    assert len(marks) == 4 and all(m == {"src": {"0": T0 + 4, "1": T0 + 5}, "pt": T0} for m in marks)


def test_the_stage_drops_a_record_sent_again_after_its_window_was_written(settings):
    stream = posts(800)
    settings = settings.replace(analytics_partitions=2)
    engines = {p: AnalyticsEngine(settings, p) for p in range(2)}
    totals = []
    for first in range(0, len(stream), 32):
        for p, value in route(stream[first:first + 32], 2):
            outs = [o for line in decode_mentions(value) for o in engines[p].process(Mention.from_json(line))]
            outs += engines[p].advance(progress) if (progress := read_progress(value)) else []
            totals += [o.value for o in outs if o.topic == "window-totals"]
    once, twice = ShareStage(engines[0].specs), ShareStage(engines[0].specs)
    written = [r for v in totals for r in once.observe(v)]
    again = [r for v in totals[: len(totals) // 2] + totals for r in twice.observe(v)]  # half of them twice
    assert written and [r.key for r in again] == [r.key for r in written]
    assert [r.value for r in again] == [r.value for r in written] and twice.stats["duplicates"] > 0
