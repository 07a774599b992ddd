"""``mmstream score``: the worker's pipeline over a JSON-lines file, no Kafka.
One output line per non-empty input line, in input order."""
from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import IO, Iterator

from mmstream.pipeline.build import build_pipeline
from mmstream.progress import Progress
from mmstream.settings import Settings


def _batches(stream: IO[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in stream:
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def score_file(settings: Settings, input_path: str, output_path: str = "-") -> int:
    pipeline = build_pipeline(settings)
    counts = {"result": 0, "dead_letter": 0}
    with ExitStack() as stack:
        src = sys.stdin.buffer if input_path == "-" else stack.enter_context(open(input_path, "rb"))
        dst = sys.stdout if output_path == "-" else stack.enter_context(open(output_path, "w", encoding="utf-8"))
        if dst is sys.stdout:
            sys.stdout.reconfigure(encoding="utf-8")
        progress = stack.enter_context(Progress("scoring", unit="posts"))
        for batch in _batches(src, settings.batch_size):
            for outcome in pipeline.process([(raw, None) for raw in batch]):
                counts[outcome.kind] += 1
                dst.write(outcome.data.decode("utf-8") + "\n")  # the exact bytes the worker would send
            progress.update(len(batch))
        pipeline.close()
    print(f"posts={sum(counts.values())} results={counts['result']} dead_letters={counts['dead_letter']}", file=sys.stderr)
    return 0
