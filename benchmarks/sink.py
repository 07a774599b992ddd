"""How fast ``mmstream sink`` drains results into SQLite and PostgreSQL.

Starts the embedded broker, puts N result records (a real result's shape, distinct
ids, three brands, two topics each) on a fresh enriched topic, then runs the sink
in-process (its own consumer group, ``--batch-size`` records per transaction) until
it has drained the topic, once per database, and prints records/s. PostgreSQL is a
throw-away cluster (tests/pgserver.py: initdb/pg_ctl, owned by nobody when run as
root), or ``--postgres DSN``; ``--no-postgres`` skips it.

    python benchmarks/sink.py [--records 20000] [--batch-size 500]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from mmstream.kafka.broker import EmbeddedBroker, free_port
from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.schemas.versions import RESULT
from mmstream.settings import Settings
from mmstream.sinks.runner import run_sink

ROOT = Path(__file__).resolve().parents[1]


def results(n: int) -> list[str]:
    lines = []
    for i in range(n):
        score = ((i * 37) % 200 - 100) / 100
        label = "negative" if score < -0.3 else "positive" if score > 0.3 else "neutral"
        lines.append(json.dumps({
            "schema": RESULT, "id": f"p{i}", "created_at": f"2026-11-28T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:"
                                                         f"{i % 60:02d}Z",
            "brands": [["acme", "brewly", "nimbus"][i % 3]], "lang": "en",
            "sentiment": {"label": label, "score": score, "probs": {"negative": 0.2, "neutral": 0.3, "positive": 0.5}},
            "topics": [{"id": "travel", "label": "travel & adventure", "keywords": [], "score": 0.7, "kind": "category"},
                       {"id": f"m-{i % 50:010x}", "label": "bag · lost", "keywords": ["bag", "lost"], "score": 0.4,
                        "kind": "mined"}],
            "modalities": {"text": {"chars": 80, "tokens": 20}}, "model": "mmstream-fused@bench"}))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL DSN (default: a throw-away cluster)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mmstream-sink-bench-"))
    with EmbeddedBroker(free_port(), log_path=work / "tansu.log") as broker:
        settings = Settings.load(broker=broker.url, topic_prefix=f"b{uuid.uuid4().hex[:8]}.", app_id="bench")
        create_topics(settings, topics=("enriched",))
        produce_jsonl(settings, results(args.records), settings.topic("enriched"))
        targets = [("sqlite", f"sqlite:///{work / 'bench.db'}")]
        server = None
        if not args.no_postgres:
            if args.postgres:
                targets.append(("postgresql", args.postgres))
            else:
                sys.path.insert(0, str(ROOT / "tests"))
                from pgserver import PostgresServer, pg_bin

                if pg_bin() is None:
                    print("postgresql: not installed (apt-get install postgresql), skipped")
                else:
                    server = PostgresServer(pg_bin()).start()
                    targets.append(("postgresql", server.dsn))
        try:
            for name, dsn in targets:
                began = time.monotonic()
                stats = run_sink(settings, dsn, ["enriched"], f"bench-{name}-{uuid.uuid4().hex[:6]}",
                                 batch_size=args.batch_size, idle_exit=3.0, progress=False)
                seconds = time.monotonic() - began - 3.0  # the idle wait at the end is not work
                print(f"{name:<11} {stats.records} records in {stats.batches} transactions, {seconds:.1f} s "
                      f"(group join included): {stats.records / seconds:,.0f} records/s")
        finally:
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
