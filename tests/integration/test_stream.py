"""End to end on the real embedded broker: real worker processes, real models."""
from __future__ import annotations

import json

import pytest

from mmstream.kafka.broker import free_port
from mmstream.kafka.admin import create_topics
from mmstream.render import image_to_b64, render_meme
from support import health, outcomes, produce, read_all, wait_for_assignment, WorkerProcess

CAPTION = "saw this at the airport"
MEME = "WORST AIRLINE EVER. LOST MY BAG AGAIN AND NOBODY CARES"


def text_post(i: int, text: str) -> dict:
    return {"id": f"p{i}", "created_at": 1764320400 + i, "text": text, "brands": ["acme"], "lang": "en"}


@pytest.fixture
def topics(settings):
    create_topics(settings, roles=("worker",))
    return settings


def test_posts_in_one_result_per_id_out_and_meme_text_counts(topics, tmp_path):
    settings = topics
    meme_b64 = image_to_b64(render_meme(MEME, seed=3, width=384), "JPEG", 85)
    posts = [text_post(i, t) for i, t in enumerate([
        "I love this airline, the crew was wonderful", "Worst flight of my life, never again",
        "Flight 88 boards at gate 12", CAPTION])]
    posts.append({"id": "meme", "created_at": "2026-11-28T09:00:00+00:00", "text": CAPTION, "images": [{"b64": meme_b64}]})
    posts += ["{not json", json.dumps({"id": "no-time", "text": "x"})]
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        produce(settings, posts)
        outcomes(settings, expected=len(posts))
        assert worker.alive(), worker.log()
        # read again, with time for a stray second copy to arrive: every copy counts
        records = read_all(settings, ["enriched", "dead-letter"], settle=3)
    finally:
        worker.stop()
    copies = [(r.key, r.json()["id"]) for r in records if r.topic == settings.topic("enriched")]
    assert sorted(copies) == sorted((i.encode(), i) for i in ("p0", "p1", "p2", "p3", "meme")), copies  # keyed, once
    results = {r.json()["id"]: r.json() for r in records if r.topic == settings.topic("enriched")}
    dead = [r.json() for r in records if r.topic == settings.topic("dead-letter")]
    assert sorted(d["reason"] for d in dead) == ["missing_created_at", "not_json"]
    for d in dead:
        assert d["stage"] in ("decode", "validate") and d["detail"] and "offset" in d and d["payload"]
    r = results["p0"]
    assert r["created_at"] == "2025-11-28T09:00:00Z" and r["brands"] == ["acme"] and r["lang"] == "en"
    assert abs(sum(r["sentiment"]["probs"].values()) - 1) < 1e-4 and "@" in r["model"]
    assert results["p0"]["sentiment"]["label"] == "positive" and results["p1"]["sentiment"]["label"] == "negative"
    meme = results["meme"]
    assert "AIRLINE" in meme["modalities"]["images"]["ocr_text"].upper()
    assert meme["sentiment"]["label"] == "negative"
    assert meme["sentiment"]["score"] < results["p3"]["sentiment"]["score"] - 0.3  # the image changes the verdict


@pytest.mark.both_brokers  # and on Apache Kafka (tests/conftest.py)
def test_two_workers_split_partitions_and_return_every_id(topics, tmp_path):
    settings = topics
    ports = [free_port(), free_port()]
    workers = [WorkerProcess(settings.replace(web_port=p), tmp_path / f"w{i}.log") for i, p in enumerate(ports)]
    posts = [text_post(i, f"post number {i} about flights and bags") for i in range(200)]
    try:
        # both members must have joined before the posts arrive, or the first takes everything
        wait_for_assignment(ports)
        produce(settings, posts)
        results, dead = outcomes(settings, expected=len(posts))
        stats = [health(p) for p in ports]
    finally:
        for w in workers:
            w.stop()
    assert set(results) == {p["id"] for p in posts} and not dead
    assert all(len(copies) == 1 for copies in results.values()), "no failure here: nothing may come out twice"
    assert all(s["results"] > 0 for s in stats), stats
    assert sum(s["results"] for s in stats) == len(posts)


