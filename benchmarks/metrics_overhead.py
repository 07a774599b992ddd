"""What the worker's metrics cost on the per-post path: WorkerMetrics.batch_delivered
(called once per micro-batch) and observe_stage (once per stage and batch), and one
scrape of the counters and histograms. Prints figures; asserts nothing.

    python benchmarks/metrics_overhead.py [--batch 32] [--batches 5000]
"""
from __future__ import annotations

import argparse
import time
from types import SimpleNamespace as NS

from prometheus_client import generate_latest

from mmstream.observability.metrics import WorkerMetrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--batch", type=int, default=32, help="posts per batch (default 32, MMSTREAM_BATCH_SIZE)")
    parser.add_argument("--batches", type=int, default=5000, help="batches timed (default 5000)")
    args = parser.parse_args()
    metrics = WorkerMetrics(["acme", "brewly"])
    now = time.time()
    events = [NS(message=NS(timestamp=now - 0.05, partition=i % 4, offset=i)) for i in range(args.batch)]
    outcomes = [NS(kind="result", record={"brands": ["acme"] if i % 3 == 0 else [], "sentiment": {"label": "negative"}})
                if i % 16 else NS(kind="dead_letter", record={"reason": "not_json", "stage": "decode"})
                for i in range(args.batch)]
    for _ in range(200):  # warm-up: label children made
        metrics.batch_delivered(events, outcomes, 0.003)
    began = time.perf_counter()
    for _ in range(args.batches):
        metrics.batch_delivered(events, outcomes, 0.003)
    per_batch = (time.perf_counter() - began) / args.batches
    print(f"batch_delivered: {per_batch * 1e6:.1f} us per batch of {args.batch} = {per_batch / args.batch * 1e6:.2f} us "
          "per post")
    began = time.perf_counter()
    for _ in range(args.batches):
        metrics.observe_stage("model", 0.01)
    print(f"observe_stage: {(time.perf_counter() - began) / args.batches * 1e6:.2f} us per stage and batch")
    began = time.perf_counter()
    for _ in range(100):
        generate_latest(metrics.registry)
    print(f"scrape of counters and histograms: {(time.perf_counter() - began) / 100 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
