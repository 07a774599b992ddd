"""Duplicates and campaigns through real workers: partition scope against cluster scope.

The stream of ``benchmarks/duplicates.py`` (generator A or B: real tweets, 15 % retweets, organic
copy-paste, injected campaigns) goes, keyed by post id, to ``<prefix>posts`` (4 partitions) on the
embedded broker, read by 2 worker processes; once per ``MMSTREAM_DUPLICATE_SCOPE``, each on topics of
its own. Figures per scope, from the results read back:

* retweets linked, campaign recall, campaigns found, campaign ids (one per campaign is ideal),
  organic posts flagged (as ``benchmarks/duplicates.py`` counts them);
* posts/s: posts over the time from the first post sent to the last result written;
* latency p50/p99: a result's record timestamp minus its post's (both stamped when sent, one clock);
* cluster scope: the copy index's propagation delay p50/p99 (an entry's timestamp, when the worker
  sent it, to its arrival at a consumer of ``<prefix>copies`` tailing every partition, as each worker's is).

    .venv/bin/python benchmarks/duplicates_workers.py [--generator A] [--posts 4000] [--rate 300]
        [--scopes partition,cluster] [--campaigns 12]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from duplicates import build  # noqa: E402 - the generators, reused

from mmstream.commands.produce import produce_jsonl  # noqa: E402
from mmstream.kafka.admin import create_topics  # noqa: E402
from mmstream.kafka.broker import EmbeddedBroker, free_port  # noqa: E402
from mmstream.settings import Settings  # noqa: E402
from mmstream.testing import Worker, wait_for, wait_until  # noqa: E402


def q(values: list[float], f: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(f * len(values)))] if values else float("nan")


class CopiesTap(threading.Thread):
    """Tails every partition of <prefix>copies: arrival time minus the entry's timestamp, per record."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings, self.delays, self.stop_event = settings, [], threading.Event()

    def run(self) -> None:
        from kafka import TopicPartition

        from mmstream.kafka.clients import kafka_consumer

        consumer = kafka_consumer(self.settings, "bench-copies-tap")
        topic = self.settings.topic("copies")
        consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())])
        while not self.stop_event.is_set():
            for messages in consumer.poll(timeout_ms=50).values():
                now = time.time() * 1000
                self.delays += [(now - m.timestamp) / 1000 for m in messages]
        consumer.close()


def run_scope(broker_url: str, scope: str, stream: list[dict], rate: float | None, work: Path) -> dict:
    settings = Settings.load(broker=broker_url, topic_prefix=f"bench{scope}{int(time.time())}.",
                             app_id=f"bench-{scope}-{int(time.time())}", partitions=4,
                             broker_session_timeout=6.0, data_dir=str(work / scope))
    create_topics(settings, roles=("input", "worker", "analytics"))
    ports = [free_port(), free_port()]
    workers = [Worker(settings.replace(web_port=p), work / f"{scope}-w{i}.log",
                      env={"MMSTREAM_DUPLICATE_SCOPE": scope, "MMSTREAM_DATA_DIR": str(work / f"{scope}-w{i}")})
               for i, p in enumerate(ports)]
    tap = CopiesTap(settings)
    try:
        import urllib.request

        def assigned() -> bool:
            found = []
            for p in ports:
                with urllib.request.urlopen(f"http://127.0.0.1:{p}/health", timeout=5) as r:
                    found.append(json.loads(r.read()).get("assigned_partitions"))
            return all(found)

        wait_until(assigned, 180, "both workers assigned")
        tap.start()
        lines = [json.dumps({"id": p["id"], "created_at": p["t_ms"] / 1000, "text": p["text"], "author": p["author"]})
                 for p in stream]
        began = time.time()
        produce_jsonl(settings, lines, settings.topic("posts"), rate=rate)
        ids = {p["id"] for p in stream}
        records = wait_for(settings, "enriched", ids, 1800, what=f"{len(ids)} results")
        posts = {r.key.decode(): r.timestamp for r in wait_for(settings, "posts", len(stream), 120)}
    finally:
        tap.stop_event.set()
        for w in workers:
            w.stop()
    answers, lat, last = {}, [], 0
    for r in records:
        v = r.json()
        if v["id"] not in answers:
            answers[v["id"]] = (v.get("duplicate_of"), v.get("campaign"))
            lat.append((r.timestamp - posts[v["id"]]) / 1000)
            last = max(last, r.timestamp / 1000)
    out = figures(stream, answers)
    out.update(posts_per_s=len(stream) / max(1e-9, last - began), lat_p50=q(lat, 0.5), lat_p99=q(lat, 0.99),
               delay_p50=q(tap.delays, 0.5), delay_p99=q(tap.delays, 0.99), entries=len(tap.delays))
    return out


def figures(stream: list[dict], answers: dict[str, tuple]) -> dict:
    camp = [p for p in stream if p["kind"] == "campaign"]
    flagged = [p for p in camp if answers[p["id"]][1] is not None]
    organic = [p for p in stream if p["kind"] == "organic"]
    rts = [p for p in stream if p["kind"] == "retweet"]
    ids_per_campaign: dict[int, set] = {}
    for p in flagged:
        ids_per_campaign.setdefault(p["campaign"], set()).add(answers[p["id"]][1]["id"])
    return {"retweets_linked": sum(answers[r["id"]][0] == (answers[r["origin"]][0] or r["origin"]) for r in rts)
            / max(1, len(rts)),
            "campaign_recall": len(flagged) / max(1, len(camp)),
            "campaigns_found": f"{len(ids_per_campaign)}/{len({p['campaign'] for p in camp})}",
            "ids_per_campaign": max((len(v) for v in ids_per_campaign.values()), default=0),
            "organic_flagged": sum(answers[p["id"]][1] is not None for p in organic) / max(1, len(organic))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=["A", "B"], default="A")
    parser.add_argument("--posts", type=int, default=4000)
    parser.add_argument("--campaigns", type=int, default=12)
    parser.add_argument("--rate", type=float, default=300.0, help="posts/s sent (0: as fast as possible)")
    parser.add_argument("--scopes", default="partition,cluster")
    args = parser.parse_args()
    stream = build(args.generator, args.posts, 0, campaigns=args.campaigns)
    print(f"generator {args.generator}: {len(stream)} posts ({sum(p['kind'] == 'retweet' for p in stream)} retweets, "
          f"{sum(p['kind'] == 'campaign' for p in stream)} campaign posts in {args.campaigns} campaigns), "
          f"4 partitions, 2 workers, rate {args.rate or 'unlimited'} posts/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        for scope in args.scopes.split(","):
            r = run_scope(broker.url, scope, stream, args.rate or None, Path(tmp))
            print(f"{scope:9s}: retweets linked {r['retweets_linked']:.1%}, campaign recall {r['campaign_recall']:.1%} "
                  f"(found {r['campaigns_found']}, at most {r['ids_per_campaign']} ids a campaign), organic flagged "
                  f"{r['organic_flagged']:.2%}; {r['posts_per_s']:.0f} posts/s, latency p50 {r['lat_p50'] * 1000:.0f} ms "
                  f"p99 {r['lat_p99'] * 1000:.0f} ms" + (f"; index delay p50 {r['delay_p50'] * 1000:.0f} ms p99 "
                                                          f"{r['delay_p99'] * 1000:.0f} ms over {r['entries']} entries"
                                                          if r["entries"] else ""), flush=True)


if __name__ == "__main__":
    main()
