"""Spike alerts on a replay with planted bursts: precision and recall.

A day of posts (event time) is built from real tweets (TweetEval sentiment
test set) with brand aliases inserted, about 125 posts an hour, and three
planted events:

* **brand burst**: 150 extra posts naming ``zenbank`` within 30 minutes (hour 15);
* **topic burst**: 120 posts on a theme absent from the background (a solar
  eclipse), no brand, within 30 minutes (hour 19);
* **negative shift**: from hour 10 to 12 the posts naming ``brewly`` are
  negative tweets, at the usual rate.

The posts go through the worker's path without Kafka: the real pipeline (text
encoder, fused model, brand matcher, topic assigner reading a snapshot of the
miner's records, mention publisher) in micro-batches, then the analytics
engine (windows, miner, detector) with the default settings; topic records
flow back into the snapshot after each batch, as the feed does in a worker.

An alert is a true positive when it belongs to a planted event: its window
ends between the event's start and one recent span (1 h) after its end, and
either its subject is the event's brand with the event's kind, or at least half
of its example posts are the event's posts. Precision = true alerts / alerts;
recall = events with an alert / events.

    .venv/bin/python benchmarks/alert_bursts.py [--seed 0] [--posts 3000]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.events import Mention, decode_mentions
from mmstream.analytics.engine.topicspace import TopicSnapshot
from mmstream.analytics.pipeline.assign import TopicAssigner
from mmstream.analytics.pipeline.publish import MentionPublisher
from mmstream.pipeline.build import build_pipeline
from mmstream.pipeline.post import parse_created_at
from mmstream.plugin import hookimpl
from mmstream.settings import Settings
from mmstream.timefmt import ms_iso

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tweeteval" / "sentiment"
T0 = 1_764_288_000  # 2025-11-28T00:00:00Z
HOUR = 3600
BRANDS = {"acme": (["@acmeair", "acme air"], 0.30), "brewly": (["#brewly", "@brewly"], 0.25),
          "nimbus": (["@nimbusphone", "nimbus phone"], 0.20), "zenbank": (["@zenbank", "zen bank"], 0.15),
          "voltcar": (["@voltcar", "#voltcar"], 0.10)}
ECLIPSE = (["the solar eclipse", "the eclipse totality", "the moon covering the sun", "my eclipse glasses",
            "the corona during totality"],
           ["was breathtaking", "drew huge crowds", "sold out everywhere", "made everyone cheer", "lasted four minutes"],
           ["over the lake", "in our town", "this afternoon", "from the rooftop", "despite the clouds"])


def tweets() -> tuple[list[str], list[str]]:
    """(all texts, negative texts) of the TweetEval sentiment test set."""
    texts, labels = DATA / "test_text.txt", DATA / "test_labels.txt"
    if not texts.is_file():
        sys.exit(f"{texts} is missing: this benchmark reads ../shared/data (see its README.md)")
    rows = list(zip(texts.read_text(encoding="utf-8").splitlines(), labels.read_text().split()))
    return [t for t, _ in rows], [t for t, lab in rows if lab == "0"]


def with_alias(rng: random.Random, text: str, brand: str) -> str:
    alias = rng.choice(BRANDS[brand][0])
    return f"{alias} {text}" if rng.random() < 0.5 else f"{text} {alias}"


def build(rng: random.Random, n: int) -> tuple[list[dict], list[dict]]:
    texts, negatives = tweets()
    names, weights = list(BRANDS), [w for _, w in BRANDS.values()]
    posts: list[dict] = []
    events = [{"name": "brand burst", "brand": "zenbank", "kind": "volume", "start": T0 + 15 * HOUR, "end": T0 + 15.5 * HOUR},
              {"name": "topic burst", "brand": None, "kind": "volume", "start": T0 + 19 * HOUR, "end": T0 + 19.5 * HOUR},
              {"name": "negative shift", "brand": "brewly", "kind": "negative_share", "start": T0 + 10 * HOUR,
               "end": T0 + 12 * HOUR}]
    for e in events:
        e["ids"] = set()
    shift = events[2]
    for i in range(n):
        t = T0 + rng.uniform(0, 24 * HOUR)
        text = rng.choice(texts)
        if rng.random() < 0.7:
            brand = rng.choices(names, weights)[0]
            if brand == "brewly" and shift["start"] <= t < shift["end"]:
                text = rng.choice(negatives)
                shift["ids"].add(f"bg{i}")
            text = with_alias(rng, text, brand)
        posts.append({"id": f"bg{i}", "created_at": round(t, 3), "text": text})
    burst, topic = events[0], events[1]
    for i in range(150):
        posts.append({"id": f"brand-burst{i}", "created_at": round(rng.uniform(burst["start"], burst["end"]), 3),
                      "text": with_alias(rng, rng.choice(texts), "zenbank")})
        burst["ids"].add(f"brand-burst{i}")
    for i in range(120):
        s, v, tail = (rng.choice(part) for part in ECLIPSE)
        posts.append({"id": f"topic-burst{i}", "created_at": round(rng.uniform(topic["start"], topic["end"]), 3),
                      "text": f"{s} {v} {tail}"})
        topic["ids"].add(f"topic-burst{i}")
    posts.sort(key=lambda p: p["created_at"])
    return posts, events


def replay(posts: list[dict], settings: Settings) -> tuple[list[dict], dict]:
    sink: list[bytes] = []

    class MentionsToList:  # a plugin: the worker's mention publisher, writing to a list instead of Kafka
        name = "mentions-to-list"

        @hookimpl
        def register_sinks(self):
            return [MentionPublisher(sink.extend)]

    pipeline = build_pipeline(settings, plugins=[MentionsToList()])
    engine = AnalyticsEngine(settings)
    snapshot, ready = TopicSnapshot(settings.topic_assign), threading.Event()
    ready.set()
    for enricher in pipeline.enrichers:  # as in a worker: topics assigned from the engine's snapshot
        if isinstance(enricher, TopicAssigner):
            enricher.use_snapshot(snapshot, ready)
    alerts = []
    for start in range(0, len(posts), settings.batch_size):
        batch = posts[start:start + settings.batch_size]
        pipeline.process([(json.dumps(p).encode(), None) for p in batch])
        for line in (line for record in sink for line in decode_mentions(record)):
            for out in engine.process(Mention.from_json(line)):
                if out.topic == "topics":
                    snapshot.apply(out.value)
                elif out.topic == "alerts":
                    alerts.append(out.value)
        sink.clear()
    return alerts, engine.describe()


def match(alert: dict, events: list[dict], recent: float) -> str | None:
    end = parse_created_at(alert["window"]["end"]).timestamp()
    examples = alert["example_post_ids"]
    for e in events:
        if not e["start"] <= end <= e["end"] + recent:
            continue
        if e["brand"] and alert["subject"] == {"type": "brand", "id": e["brand"], "label": e["brand"]} \
                and alert["kind"] == e["kind"]:
            return e["name"]
        if examples and sum(p in e["ids"] for p in examples) >= len(examples) / 2:
            return e["name"]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--posts", type=int, default=3000, help="background posts over the day")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    posts, events = build(rng, args.posts)
    with tempfile.TemporaryDirectory() as tmp:
        brands = Path(tmp) / "brands.toml"
        brands.write_text("".join(f"[brands.{b}]\naliases = {json.dumps(a)}\n" for b, (a, _) in BRANDS.items()))
        settings = Settings.load(brands_file=str(brands))
        started = time.perf_counter()
        alerts, engine = replay(posts, settings)
        seconds = time.perf_counter() - started
    print(f"posts={len(posts)} (planted {sum(len(e['ids']) for e in events)}) seconds={seconds:.1f} "
          f"topics={engine['active_topics']} late={engine['late']} windows_closed={engine['windows_closed']}")
    hits: dict[str, int] = {}
    true = 0
    for a in alerts:
        matched = match(a, events, settings.alert_recent)
        true += matched is not None
        if matched:
            hits[matched] = hits.get(matched, 0) + 1
        f = a["figures"]
        print(f"  {a['window']['end']} {a['kind']:<14} {a['subject']['type']}:{a['subject']['label'][:40]:<40} "
              f"posts={f['posts']} expected={f['expected_posts']} z={f['z']} neg={f['negative_share']} "
              f"(base {f['baseline_negative_share']}, z={f['negative_z']}) -> {matched or 'FALSE POSITIVE'}")
    for e in events:
        print(f"  planted {e['name']:<15} {ms_iso(int(e['start'] * 1000))} .. {ms_iso(int(e['end'] * 1000))}: "
              f"{hits.get(e['name'], 0)} alert(s)")
    precision = true / len(alerts) if alerts else 1.0
    recall = sum(e["name"] in hits for e in events) / len(events)
    print(f"alerts={len(alerts)} true={true} precision={precision:.2f} recall={recall:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
