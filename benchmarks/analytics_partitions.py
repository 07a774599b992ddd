"""Analytics throughput with 1, 2 and 4 engine partitions, per core, and the cost of coordination.

A synthetic stream (``--brands`` brands with Zipf popularity, 1 in 10 posts naming two,
``--themes`` topics in a 384-d embedding space, the default windows, miner and detector) is
routed the way workers route it (:func:`mmstream.analytics.engine.routing.route`, batches of 32):
one mention per brand's partition, the mining copy to partition 0, a progress line to every
partition. Each engine partition then runs in a process of its own, pinned to one core
(``os.sched_setaffinity``; partitions share the cores round robin when there are more of
them than cores), and its CPU time (``time.process_time``: what it would take on a core of
its own) is counted for decoding and processing its records. Throughput with N partitions
is posts over the busiest partition's CPU time: the rate N cores would sustain.

The share-of-voice stage (one place) is then fed every partition's ``window-totals``
records; its records and CPU time are reported against the number of windows and of
mentions, for the stream and for one with the same event-time span and half the posts.

    nice -n 19 .venv/bin/python benchmarks/analytics_partitions.py [--posts 40000]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.events import Mention, decode_mentions
from mmstream.analytics.engine.routing import read_progress, route
from mmstream.analytics.engine.share import ShareStage
from mmstream.settings import Settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from restart import stream  # noqa: E402  (the same synthetic stream)


def _records(posts: int, brands: int, themes: int, rate: float, partitions: int) -> dict[int, list[bytes]]:
    mentions = [Mention.from_json(line) for line in stream(posts, brands, themes, rate)]
    out: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
    for first in range(0, len(mentions), 32):
        for p, value in route(mentions[first:first + 32], partitions):
            out[p].append(value)
    return out


def _run_partition(args: tuple) -> dict:
    posts, brands, themes, rate, partitions, p = args
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[p % len(cores)]})
    records = _records(posts, brands, themes, rate, partitions)[p]
    engine = AnalyticsEngine(Settings.load(analytics_partitions=partitions), p)
    totals, mentions = [], 0
    began = time.process_time()
    for value in records:
        for line in decode_mentions(value):
            mentions += 1
            totals += [o.value for o in engine.process(Mention.from_json(line)) if o.topic == "window-totals"]
        if (progress := read_progress(value)) is not None:
            totals += [o.value for o in engine.advance(progress) if o.topic == "window-totals"]
    cpu = time.process_time() - began
    return {"partition": p, "records": len(records), "mentions": mentions, "cpu": cpu, "totals": totals,
            "windows_closed": engine.stats["windows_closed"]}


def measure(posts: int, brands: int, themes: int, rate: float, partitions: int) -> dict:
    with multiprocessing.get_context("fork").Pool(partitions) as pool:
        parts = pool.map(_run_partition, [(posts, brands, themes, rate, partitions, p) for p in range(partitions)])
    stage = ShareStage(AnalyticsEngine(Settings.load(analytics_partitions=partitions)).specs)
    feed = sorted(((t["watermark"], t["partition"], k, t) for part in parts for k, t in enumerate(part["totals"])),
                  key=lambda x: x[:3])
    began = time.process_time()
    written = sum(len(stage.observe(t)) for *_, t in feed)
    return {"partitions": partitions, "parts": parts, "stage_cpu": time.process_time() - began,
            "stage_records": len(feed), "brand_stats": written, "windows": stage.stats["windows"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--posts", type=int, default=40_000)
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--themes", type=int, default=40)
    parser.add_argument("--rate", type=float, default=20.0, help="posts per second of event time")
    parser.add_argument("--partitions", default="1,2,4")
    args = parser.parse_args(argv)
    print(f"{args.posts:,} posts, {args.brands} brands, {len(os.sched_getaffinity(0))} cores; CPU s per partition "
          f"(pinned, one process each)")
    print(f"{'N':>2} {'mentions/partition':>28} {'cpu s/partition':>28} {'us/mention':>22} {'posts/s (N cores)':>18} "
          f"{'stage records':>14} {'stage ms':>9}")
    for n in (int(x) for x in args.partitions.split(",")):
        r = measure(args.posts, args.brands, args.themes, args.rate, n)
        parts = r["parts"]
        busiest = max(p["cpu"] for p in parts)
        counts = "/".join(str(p["mentions"]) for p in parts)
        cpus = "/".join(f"{p['cpu']:.1f}" for p in parts)
        costs = "/".join(f"{1e6 * p['cpu'] / max(1, p['mentions']):.0f}" for p in parts)
        print(f"{n:>2} {counts:>28} {cpus:>28} {costs:>22} {args.posts / busiest:>18,.0f} "
              f"{r['stage_records']:>14,} {1000 * r['stage_cpu']:>9.0f}", flush=True)
    # coordination: the same event-time span with half the posts (half the rate): the stage's input
    for posts, rate in ((args.posts, args.rate), (args.posts // 2, args.rate / 2)):
        r = measure(posts, args.brands, args.themes, rate, 4)
        mentions = sum(p["mentions"] for p in r["parts"])
        print(f"stage, 4 partitions, {posts:,} posts over {posts / rate / 3600:.1f} h: {mentions:,} mentions, "
              f"{r['windows']:,} windows written, {r['stage_records']:,} window-totals records, "
              f"{r['brand_stats']:,} brand-stats records, {1000 * r['stage_cpu']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
