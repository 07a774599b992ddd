"""Every example of output in README.md and docs/*.md is real output of the shipped code.

Each ```json block is preceded by an HTML comment saying what produced it; this test finds
every block, reruns what the comment names and compares the block with the output field by
field. A ```json block without such a comment fails the test, so a new section's examples
cannot be left unchecked by accident. The comments:

* ``<!-- example: score FILE ID -->``: ``mmstream score FILE``, the output line of post ``ID``;
* ``<!-- example: worker SETUP TOPIC KEY -->``: the record keyed ``KEY`` on ``TOPIC`` (``enriched``,
  ``dead-letter``, ``brand-stats`` ...) after a real worker on the embedded broker consumed the setup's
  posts (:data:`SETUPS`);
* ``<!-- example: http SETUP PATH -->``: that worker's answer to ``GET PATH``;
* ``<!-- example: unchecked REASON -->``: not rerun here, for the reason given (too slow to rerun:
  say the command that made it); every such block is listed in :data:`UNCHECKED`, so adding one is
  a visible change to this file.

Comparison (the tolerance): objects have exactly the example's keys, unless the example has a key
``"..."`` (then the other keys are not shown); a list has the example's length, unless its last item is
``"..."`` (then the example is its first items); a string holding ``...`` matches any string that starts
with what comes before it and ends with what comes after; integers, booleans, null and other strings are
equal; a number with decimals matches when the output rounded to as many decimals as the example shows
differs from it by at most one in the last of them (``0.24`` matches 0.2354 to 0.2549).

Across CPUs the int8 models do not agree to the last digit: on an AVX2 machine without VNNI (where int8 products
can saturate in ONNX Runtime's kernels) a meme's complaint probability came out 0.208 against 0.24 elsewhere, a text's score
-0.787 against -0.81, Whisper split a voice note into two segments instead of one, and a category fell under
its threshold for three of ten posts. So the examples show such figures with fewer decimals (``0.2``, ``-0.8``),
and lists a CPU can change (segments, top topics) as their first items and ``"..."``: what the example shows
still has to be what the code outputs, on either kind of machine.

To make an example for a new block: run what the comment will say (for ``score``:
``python tests/integration/test_readme_examples.py score FILE ID`` prints the line, pretty enough to paste), paste
it, put the comment before the block, and shorten it with ``"..."`` where the whole would not help a reader.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import pytest
from paths import REPO

ROOT = REPO
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SAMPLES = "mmstream/samples/posts.jsonl"

#: named setups of the ``worker`` and ``http`` examples: the posts a worker with this environment consumes
SETUPS = {
    # the bundled samples' first 32 posts (text and images; posts added to the samples later leave these examples
    # alone) and their brands through one worker: one partition, so the order of the posts (and with it the mined
    # topics and the windows) is the file's; topics mined after 10 posts (the default: 50). Which results get a
    # mined topic depends on when the worker's snapshot hears of a topic the engine found: examples elide those
    "samples": {"posts": SAMPLES, "first": 32, "env": {"MMSTREAM_PARTITIONS": "1", "MMSTREAM_ANALYTICS_PARTITIONS": "1",
                                          "MMSTREAM_TOPIC_WARMUP": "10",
                                          "MMSTREAM_BRANDS_FILE": str(ROOT / "mmstream/samples/brands.toml")}},
    # a steady stream of acme and brewly posts, then 30 acme posts in 15 s: a volume alert (alert spans of
    # seconds: 30 s recent, 240 s of baseline, 10 posts at least, z 3)
    "burst": {"posts": "tests/data/burst_posts.jsonl",
              "env": {"MMSTREAM_PARTITIONS": "1", "MMSTREAM_ANALYTICS_PARTITIONS": "1", "MMSTREAM_WINDOW_TUMBLING": "10",
                      "MMSTREAM_WINDOW_HOPPING": "20", "MMSTREAM_WINDOW_HOP": "10", "MMSTREAM_WINDOW_GRACE": "5",
                      "MMSTREAM_ALERT_RECENT": "30", "MMSTREAM_ALERT_BASELINE": "240", "MMSTREAM_ALERT_MIN_POSTS": "10",
                      "MMSTREAM_ALERT_Z": "3", "MMSTREAM_ALERT_COOLDOWN": "60", "MMSTREAM_TOPIC_WARMUP": "10",
                      "MMSTREAM_BRANDS_FILE": str(ROOT / "mmstream/samples/brands.toml")}},
    # an acme stream in 10 s windows with 5 s of grace whose last post comes after its windows closed
    "late": {"posts": "tests/data/late_posts.jsonl",
             "env": {"MMSTREAM_PARTITIONS": "1", "MMSTREAM_ANALYTICS_PARTITIONS": "1", "MMSTREAM_WINDOW_TUMBLING": "10",
                     "MMSTREAM_WINDOW_HOPPING": "20", "MMSTREAM_WINDOW_HOP": "10", "MMSTREAM_WINDOW_GRACE": "5",
                     "MMSTREAM_BRANDS_FILE": str(ROOT / "mmstream/samples/brands.toml")}},
}

#: blocks not rerun here (the first words of the comment's reason), each with why
UNCHECKED: set[str] = set()  # none today

COMMENT = re.compile(r"<!--\s*example:\s*(?P<spec>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    spec: str
    body: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line} ({self.spec})"


def examples() -> list[Example]:
    found = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() == "```json":
                end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
                before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
                match = COMMENT.match(before.strip())
                found.append(Example(path.name, i + 1, match.group("spec") if match else "",
                                     "\n".join(lines[i + 1:end])))
                i = end
            i += 1
    return found


# -- comparison -----------------------------------------------------------------------------------------

class Shown(float):
    """A number as the example writes it (its decimals are the tolerance)."""

    def __new__(cls, text: str) -> "Shown":
        number = super().__new__(cls, text)
        number.text = text  # type: ignore[attr-defined]
        return number


def parse_example(body: str) -> Any:
    return json.loads(body, parse_float=Shown)


def differences(example: Any, actual: Any, where: str = "") -> Iterator[str]:
    """What differs, one line per field."""
    here = where or "(top)"
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            yield f"{here}: an object in the example, {actual!r} in the output"
            return
        shown = {k: v for k, v in example.items() if k != "..."}
        missing = sorted(set(shown) - set(actual))
        extra = sorted(set(actual) - set(shown)) if "..." not in example else []
        if missing:
            yield f"{here}: keys the output does not have: {missing}"
        if extra:
            yield f"{here}: keys the example does not show (add them, or a \"...\" key): {extra}"
        for key in shown:
            if key in actual:
                yield from differences(shown[key], actual[key], f"{where}.{key}" if where else key)
    elif isinstance(example, list):
        if not isinstance(actual, list):
            yield f"{here}: a list in the example, {actual!r} in the output"
            return
        prefix = bool(example) and example[-1] == "..."
        items = example[:-1] if prefix else example
        if (len(actual) < len(items)) if prefix else (len(actual) != len(items)):
            yield f"{here}: {len(items)} items in the example{' at least' if prefix else ''}, {len(actual)} in the output"
        for i, (e, a) in enumerate(zip(items, actual)):
            yield from differences(e, a, f"{where}[{i}]")
    elif isinstance(example, Shown):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            yield f"{here}: {example.text} in the example, {actual!r} in the output"
            return
        decimals = len(example.text.split(".")[1].split("e")[0].split("E")[0]) if "." in example.text else 0
        unit = Decimal(1).scaleb(-decimals)
        rounded = Decimal(repr(float(actual))).quantize(unit)
        if abs(rounded - Decimal(example.text)) > unit:
            yield f"{here}: {example.text} in the example, {actual!r} in the output"
    elif isinstance(example, str) and "..." in example and isinstance(actual, str):
        head, tail = example.split("...", 1)
        if not (actual.startswith(head) and actual.endswith(tail) and len(actual) >= len(head) + len(tail)):
            yield f"{here}: {example!r} in the example, {actual!r} in the output"
    elif type(example) is not type(actual) or example != actual:
        if not (isinstance(example, int) and isinstance(actual, float) and actual == example
                and not isinstance(example, bool)):
            yield f"{here}: {example!r} in the example, {actual!r} in the output"


# -- what produces the examples ---------------------------------------------------------------------------

@lru_cache(maxsize=None)
def scored(path: str) -> dict[str, dict]:
    """``mmstream score PATH``: the output lines by post id."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSTREAM_")}
    done = subprocess.run([sys.executable, "-m", "mmstream", "score", str(ROOT / path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert out, done.stderr
    return {o["id"]: o for o in out if o.get("id") is not None}


class Worker:
    """A real worker on the embedded broker that consumes a setup's posts (:meth:`ready`: once it has)."""

    def __init__(self, broker: Any, root: Path, setup: str) -> None:
        from mmstream.kafka.admin import create_topics
        from mmstream.testing import unique_settings
        from support import WorkerProcess, produce, read_all, wait_for, wait_until

        self.read_all, self.wait_until, self.wait_for = read_all, wait_until, wait_for
        spec = SETUPS[setup]
        partitions = int(spec["env"].get("MMSTREAM_PARTITIONS", "4"))
        self.settings = unique_settings(root / "data", broker=broker.url, broker_session_timeout=6.0,
                                        partitions=partitions)
        create_topics(self.settings, roles=("worker",))
        self.process = WorkerProcess(self.settings, root / "worker.log", spec["env"])
        self.lines = (ROOT / spec["posts"]).read_text().splitlines()[:spec.get("first")]
        produce(self.settings, self.lines)
        self.consumed = False
        #: the ``http`` examples' paths on this setup, settled together on the first one asked (:meth:`settled`)
        self.paths = sorted({e.spec.split()[2] for e in examples() if e.spec.split()[:2] == ["http", setup]})
        self.answers: dict[str, Any] = {}

    def ready(self) -> "Worker":
        """This worker, once every post of its setup has its outcome."""
        if not self.consumed:
            self.wait_for(self.settings, ["enriched", "dead-letter"], len(self.lines), 300, "every post's outcome",
                          self.process)
            self.consumed = True
        return self

    def records(self, topic: str) -> dict[str, dict]:
        """The last record of each key on ``topic``; the test's own topic prefix reads as the default ``mmstream.``."""
        out = {}
        for r in self.read_all(self.settings, topic, settle=2.0):
            value = r.json()
            if isinstance(value.get("topic"), str) and value["topic"].startswith(self.settings.topic_prefix):
                value["topic"] = "mmstream." + value["topic"][len(self.settings.topic_prefix):]
            out[r.key.decode() if r.key else ""] = value
        return out

    def record(self, topic: str, key: str) -> dict | None:
        """The last record keyed ``key`` on ``topic``, once there is one (the analytics' outputs come later)."""
        self.wait_for(self.settings, topic, {key}, 60, f"a record keyed {key!r}", self.process)
        return self.records(topic).get(key)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.settings.web_port}{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def settled(self, path: str) -> Any:
        """``GET path`` once the analytics have stopped changing it (the same answer 3 s apart). Every
        ``http`` example's path on this setup is settled at once, on the first asked: the answers all the
        same 3 s apart (one wait of 3 s at least for all of them, not one each)."""
        if path not in self.answers:
            paths = sorted({*self.paths, path})
            last: list[Any] = [None]

            def same() -> Any:
                now = {p: self.get(p) for p in paths}
                if now == last[0]:
                    return now
                last[0] = now
                time.sleep(3.0)
                return None
            self.answers.update(self.wait_until(same, 120, f"GET {', '.join(paths)} to settle"))
        return self.answers[path]


@pytest.fixture(scope="module")
def workers(request, tmp_path_factory) -> Iterator[dict[str, Worker]]:
    started: dict[str, Worker] = {}

    def start(name: str) -> None:
        started[name] = Worker(request.getfixturevalue("broker"), tmp_path_factory.mktemp(name), name)

    def get(setup: str) -> Worker:
        if setup not in started:
            start(setup)
        return started[setup].ready()
    try:
        # every setup an example names, started at once before the first example is checked: their model
        # loads, group joins and streams overlap each other and the score examples' `mmstream score` (one
        # after another, each waited for the last to finish)
        for name in sorted({e.spec.split()[1] for e in examples() if e.spec.split()[:1] in (["worker"], ["http"])}):
            start(name)
        yield get  # type: ignore[misc]
    finally:
        for worker in started.values():
            worker.process.stop()


def produced(example: Example, workers: Any) -> Any:
    kind, *args = example.spec.split()
    if kind == "score":
        path, post_id = args
        outcomes = scored(path)
        assert post_id in outcomes, f"{example}: no output line for {post_id!r} (ids: {sorted(outcomes)})"
        return outcomes[post_id]
    if kind == "worker":
        setup, topic, key = args
        return workers(setup).record(topic, key)
    if kind == "http":
        setup, path = args
        return workers(setup).settled(path)
    raise AssertionError(f"{example}: unknown example kind {kind!r}: score, worker, http or unchecked")


# -- the tests ---------------------------------------------------------------------------------------------

def test_every_json_block_says_what_produced_it():
    found = examples()
    assert len(found) >= 10, [str(e) for e in found]
    unmarked = [str(e) for e in found if not e.spec]
    assert not unmarked, ("```json blocks without an <!-- example: ... --> comment before them (see "
                          f"tests/integration/test_readme_examples.py): {unmarked}")
    unchecked = {e.spec.split(None, 1)[1] if " " in e.spec else "" for e in found if e.spec.startswith("unchecked")}
    listed = {reason for reason in unchecked if any(reason.startswith(u) for u in UNCHECKED)}
    assert unchecked == listed, f"unchecked examples not in UNCHECKED: {unchecked - listed}"
    for e in found:
        parse_example(e.body)  # every example is JSON


def test_the_comparison_has_teeth():
    """The tolerance documented above, on known pairs (a comparison that passes everything checks nothing)."""
    def same(example: str, actual: Any) -> bool:
        return not list(differences(parse_example(example), actual))

    assert same('{"p": 0.24}', {"p": 0.241459}) and same('{"p": 0.24}', {"p": 0.2354})
    assert not same('{"p": 0.91}', {"p": 0.241459}) and not same('{"p": 0.24}', {"p": 0.2551})
    assert not same('{"label": true}', {"label": False}) and not same('{"n": 4}', {"n": 5})
    assert not same('{"a": 1}', {"a": 1, "b": 2}) and same('{"a": 1, "...": "..."}', {"a": 1, "b": 2})
    assert not same('{"a": 1, "b": 2}', {"a": 1}) and not same("[1, 2]", [1, 2, 3]) and same('[1, "..."]', [1, 2, 3])
    assert same('"{\\"id\\": \\"x\\", ...}"', '{"id": "x", "text": "y"}') and not same('"ab...z"', "abcd")
    assert not same('{"s": "x"}', {"s": None}) and not same('{"s": null}', {"s": 0})


@pytest.mark.integration  # score and a worker: child processes, the embedded broker
def test_each_example_is_what_the_shipped_code_outputs(workers):
    checked = 0
    failures = []
    for example in examples():
        if not example.spec or example.spec.startswith("unchecked"):
            continue
        actual = produced(example, workers)
        found = list(differences(parse_example(example.body), actual))
        if found:
            failures.append(f"{example}:\n  " + "\n  ".join(found) + "\n  the output: "
                            + json.dumps(actual, ensure_ascii=False)[:3000])
        checked += 1
    assert not failures, "\n".join(failures)
    assert checked >= 6, checked


if __name__ == "__main__":  # python tests/integration/test_readme_examples.py score FILE ID
    if len(sys.argv) != 4 or sys.argv[1] != "score":
        sys.exit("usage: python tests/integration/test_readme_examples.py score FILE ID")
    print(json.dumps(scored(sys.argv[2])[sys.argv[3]], ensure_ascii=False))
