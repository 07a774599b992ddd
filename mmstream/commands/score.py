"""``mmstream score``: the worker's pipeline over a JSON-lines file, no Kafka.

Every input line gets exactly one output line, in input order: output line N answers input
line N. A post that cannot be scored gets its dead letter there, with ``line`` (1-based) so it
can be found in the input even without a usable id; a blank line is a record without a value
(``empty_payload``, stage ``decode``). A closing summary goes to stderr. Exit status:
:data:`EXIT_OK` when every line got a result, :data:`EXIT_SOME_FAILED` when at least one got a
dead letter (the output is complete either way), 2 for a wrong setting or file.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import ExitStack
from typing import IO, Iterator

from mmstream.errors import PostError
from mmstream.pipeline.build import build_pipeline
from mmstream.pipeline.outcomes import dead_letter
from mmstream.progress import Progress
from mmstream.settings import Settings

EXIT_OK = 0
#: some lines were dead-lettered (README, "Commands": ``mmstream score``)
EXIT_SOME_FAILED = 3


def _batches(stream: IO[bytes], size: int) -> Iterator[list[tuple[int, bytes]]]:
    """``(line number, line)`` pairs, blank lines included, ``size`` at a time."""
    batch: list[tuple[int, bytes]] = []
    for number, line in enumerate(stream, 1):
        batch.append((number, line.rstrip(b"\r\n")))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _with_line(record: dict, number: int) -> dict:
    """The dead letter with ``line`` right after ``id``."""
    out: dict = {}
    for key, value in record.items():
        out[key] = value
        if key == "id":
            out["line"] = number
    out.setdefault("line", number)
    return out


def _blank(number: int) -> PostError:
    return PostError("empty_payload", f"line {number} is blank; put one JSON post per line (its output line is "
                     "this dead letter, so that output line N still answers input line N).", "decode")


def score_file(settings: Settings, input_path: str, output_path: str = "-") -> int:
    pipeline = build_pipeline(settings)
    counts = {"result": 0, "dead_letter": 0}
    reasons: Counter[str] = Counter()
    first_bad: int | None = None
    with ExitStack() as stack:
        src = sys.stdin.buffer if input_path == "-" else stack.enter_context(open(input_path, "rb"))
        dst = sys.stdout if output_path == "-" else stack.enter_context(open(output_path, "w", encoding="utf-8"))
        if dst is sys.stdout:
            sys.stdout.reconfigure(encoding="utf-8")
        progress = stack.enter_context(Progress("scoring", unit="lines"))
        for batch in _batches(src, settings.batch_size):
            posts = [(number, raw) for number, raw in batch if raw.strip()]
            outcomes = iter(pipeline.process([(raw, None) for _, raw in posts]))
            for number, raw in batch:
                if raw.strip():
                    outcome = next(outcomes)
                    kind, record, data = outcome.kind, outcome.record, outcome.data.decode("utf-8")
                else:
                    kind, record, data = "dead_letter", dead_letter(raw, _blank(number), None), None
                counts[kind] += 1
                if kind == "dead_letter":
                    reasons[record["reason"]] += 1
                    first_bad = first_bad or number
                    data = json.dumps(_with_line(record, number), separators=(",", ":"), default=repr)
                dst.write(data + "\n")  # a result: the exact bytes the worker would send
            progress.update(len(batch))
        pipeline.close()
    summary = f"lines={sum(counts.values())} results={counts['result']} dead_letters={counts['dead_letter']}"
    if reasons:
        summary += (f" ({', '.join(f'{reason} {n}' for reason, n in reasons.most_common())}; first on line "
                    f"{first_bad}); exit status {EXIT_SOME_FAILED}")
    print(summary, file=sys.stderr)
    return EXIT_SOME_FAILED if counts["dead_letter"] else EXIT_OK
