"""The cost of exactly-once against at-least-once, on Apache Kafka itself.

Starts one KRaft node (tests/realkafka.py; jars fetched by Maven once), fills a
posts topic with ``--posts`` text posts per mode, then runs one worker per mode
(``MMSTREAM_PROCESSING_GUARANTEE``) over the backlog and reads the results back
``read_committed``. Figures: posts/s from the first to the last result (the
results' Kafka timestamps), and the batches' transactions.

    python benchmarks/exactly_once.py --posts 3000 [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mmstream.kafka.broker import free_port  # noqa: E402
from mmstream.commands.produce import produce_jsonl  # noqa: E402
from mmstream.kafka.admin import create_topics  # noqa: E402
from mmstream.kafka.readback import consume  # noqa: E402
from mmstream.settings import Settings  # noqa: E402
from realkafka import KafkaCluster  # noqa: E402

WORDS = ("flight", "crew", "delay", "bag", "gate", "phone", "battery", "coffee", "lounge", "support", "great",
         "awful", "fine", "never", "again", "love", "hate", "late", "early", "seat")


def posts(n: int, prefix: str) -> list[str]:
    return [json.dumps({"id": f"{prefix}{i}", "created_at": 1764320400 + i,
                        "text": " ".join(WORDS[(i * k + k * k) % len(WORDS)] for k in range(1, 4 + i % 17))})
            for i in range(n)]


def run_mode(cluster: KafkaCluster, guarantee: str, n: int, work: Path) -> dict:
    unique = uuid.uuid4().hex[:8]
    settings = Settings.load(broker=cluster.url, topic_prefix=f"b{unique}.", app_id=f"bench-{unique}",
                             web_port=free_port(), data_dir=str(work / unique))
    create_topics(settings, roles=("worker",))
    produce_jsonl(settings, posts(n, unique), settings.topic("posts"))
    env = {"PATH": "/usr/bin:/bin", "MMSTREAM_BROKER": settings.broker, "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix,
           "MMSTREAM_APP_ID": settings.app_id, "MMSTREAM_WEB_PORT": str(settings.web_port),
           "MMSTREAM_DATA_DIR": settings.data_dir, "MMSTREAM_PROCESSING_GUARANTEE": guarantee,
           "MMSTREAM_ONNX_THREADS": "1"}
    log = open(work / f"{unique}.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "mmstream", "worker"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        records = consume(settings, [settings.topic("enriched")], timeout=600, isolation_level="read_committed",
                          until=lambda rs: len(rs) >= n)
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    if len(records) < n:
        raise SystemExit(f"{guarantee}: only {len(records)} of {n} results; see {work / unique}.log")
    stamps = sorted(r.timestamp for r in records)
    span = (stamps[-1] - stamps[0]) / 1000
    return {"guarantee": guarantee, "posts": n, "results": len(records), "seconds": span,
            "posts_per_s": (n - 1) / span if span > 0 else float("inf"),
            "duplicates": len(records) - len({r.key for r in records})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--posts", type=int, default=3000, help="posts per run (default 3000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode, alternating (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmstream-eos-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        with KafkaCluster(work / "kafka", nodes=1) as cluster:
            print(f"Apache Kafka (1 KRaft node) ready in {cluster.started_in:.1f} s", file=sys.stderr)
            runs = []
            for i in range(args.repeat):
                for guarantee in ("at_least_once", "exactly_once"):
                    result = run_mode(cluster, guarantee, args.posts, work)
                    runs.append(result)
                    print(f"run {i + 1} {guarantee:>14}: {result['results']} results in {result['seconds']:.2f} s "
                          f"= {result['posts_per_s']:.0f} posts/s, {result['duplicates']} duplicates", flush=True)
        for guarantee in ("at_least_once", "exactly_once"):
            rates = [r["posts_per_s"] for r in runs if r["guarantee"] == guarantee]
            print(f"{guarantee:>14}: median {statistics.median(rates):.0f} posts/s over {len(rates)} run(s)")
        alo = statistics.median(r["posts_per_s"] for r in runs if r["guarantee"] == "at_least_once")
        eos = statistics.median(r["posts_per_s"] for r in runs if r["guarantee"] == "exactly_once")
        print(f"exactly_once / at_least_once = {eos / alo:.2f} ({time.monotonic() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
