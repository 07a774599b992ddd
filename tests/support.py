"""Test helpers: real worker processes and reading their output back."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from mmstream import schemas
from mmstream.commands.produce import produce_jsonl
from mmstream.settings import Settings
from mmstream.testing import Record, consume


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "MMSTREAM_BROKER": settings.broker,
        "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "MMSTREAM_APP_ID": settings.app_id,
        "MMSTREAM_BROKER_SESSION_TIMEOUT": str(settings.broker_session_timeout),
        "MMSTREAM_WEB_PORT": str(settings.web_port),
        "MMSTREAM_DATA_DIR": settings.data_dir,
        "MMSTREAM_PLUGIN_TIMEOUT": str(settings.plugin_timeout),
        "MMSTREAM_ONNX_THREADS": "1",
    }


class WorkerProcess:
    """``python -m mmstream worker`` as a child process, logging to a file."""

    def __init__(self, settings: Settings, log: Path, extra_env: dict[str, str] | None = None) -> None:
        self.settings, self.log_path = settings, log
        self._log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "mmstream", "worker"],
                                     env={**settings_env(settings), **(extra_env or {})},
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def produce(settings: Settings, posts: list) -> int:
    lines = [p if isinstance(p, (bytes, str)) else json.dumps(p) for p in posts]
    return produce_jsonl(settings, lines, settings.topic("posts"))


# -- waiting: every wait that runs out fails the test with what it saw ------------------------------------

Until = int | set | frozenset | Callable[[list[Record]], bool]


def wait_for(settings: Settings, topics: str | Iterable[str], until: Until, timeout: float,
             what: str = "", context: "WorkerProcess | Iterable[WorkerProcess] | None" = None) -> list[Record]:
    """Read ``topics`` (short names such as ``"enriched"``, or full ones) from the
    beginning until ``until`` holds; every record read, in arrival order.

    ``until`` is a number of records, a set of keys (post ids) that must all have
    been seen, or a predicate over the records. When ``timeout`` runs out first
    (``consume`` itself just returns what it read) this raises AssertionError
    naming what was expected, what was seen, and what was not, followed by the
    logs of the ``context`` worker(s)."""
    names = [topics] if isinstance(topics, str) else list(topics)
    full = [n if n.startswith(settings.topic_prefix) else settings.topic(n) for n in names]
    check = _condition(until)
    started = time.monotonic()
    records = consume(settings, full, until=check, timeout=timeout)
    if not check(records):
        message = _report(what or _describe(until), full, records, until, time.monotonic() - started)
        workers = [context] if isinstance(context, WorkerProcess) else list(context or ())
        for worker in workers:
            message += f"\n--- {worker.log_path.name} (alive: {worker.alive()}) ---\n{worker.log()}"
        raise AssertionError(message)
    return records


def read_all(settings: Settings, topics: str | Iterable[str], settle: float = 2.0) -> list[Record]:
    """Everything on ``topics`` after reading for ``settle`` seconds: for checks
    that nothing more (no duplicate, no dead letter) arrived. Deliberately
    never fails on time: the caller asserts on what it got."""
    names = [topics] if isinstance(topics, str) else list(topics)
    full = [n if n.startswith(settings.topic_prefix) else settings.topic(n) for n in names]
    return consume(settings, full, until=lambda rs: False, timeout=settle)


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.3) -> Any:
    """Poll ``check()`` (an HTTP query, a file ...) until it returns something
    truthy, and return that; on timeout raise AssertionError with the last value
    (or the last OSError) seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
        except OSError as exc:  # not listening yet
            value, last = None, exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout} s for {what}; last seen: {str(last)[:1500]}")
        time.sleep(every)


def record_key(r: Record) -> str | None:
    """A record's key as text, else the ``id`` in its JSON value (None if neither)."""
    if r.key:
        return r.key.decode("utf-8", "replace")
    try:
        value = r.json()
    except ValueError:
        return None
    return value.get("id") if isinstance(value, dict) else None


def _reason(r: Record) -> str | None:
    try:
        return r.json().get("reason")
    except (ValueError, AttributeError):
        return None


def _condition(until: Until) -> Callable[[list[Record]], bool]:
    if isinstance(until, bool):
        raise TypeError("until must be a count, a set of keys or a predicate")
    if isinstance(until, int):
        return lambda rs: len(rs) >= until
    if isinstance(until, (set, frozenset)):
        wanted = set(until)
        return lambda rs: wanted <= {record_key(r) for r in rs}
    return until


def _describe(until: Until) -> str:
    if isinstance(until, int):
        return f"{until} records"
    if isinstance(until, (set, frozenset)):
        return f"{len(until)} keys"
    return getattr(until, "__doc__", None) or getattr(until, "__name__", "the condition")


def _report(what: str, topics: list[str], records: list[Record], until: Until, seconds: float) -> str:
    per_topic = Counter(r.topic for r in records)
    keys = [record_key(r) for r in records]
    lines = [f"waited {seconds:.1f} s for {what} on {topics}: read {len(records)} records "
             f"({', '.join(f'{t}: {n}' for t, n in per_topic.items()) or 'none'})"]
    if isinstance(until, (set, frozenset)):
        missing = sorted(set(until) - set(keys), key=str)
        lines.append(f"not seen: {len(missing)} of {len(until)}: {missing[:20]}")
    lines.append(f"keys seen (first 20): {keys[:20]}")
    dead = [r for r in records if r.topic.endswith("dead-letter")]
    if dead:
        reasons = Counter(_reason(r) for r in dead)
        lines.append(f"dead letters by reason: {dict(reasons)}")
    for r in dead[:3]:
        lines.append(f"dead letter: {r.value[:300]!r}")
    return "\n".join(lines)


def produce_values(settings: Settings, values: list[bytes | None], key: bytes | None = b"no-value") -> None:
    """Send raw record values (``None``: a record with no value at all, a tombstone, which Kafka
    allows only with a key) to the posts topic."""
    from kafka import KafkaProducer

    from mmstream.kafka.security import kafka_python_config

    producer = KafkaProducer(acks=1, enable_idempotence=False, **kafka_python_config(settings))
    try:
        for value in values:
            producer.send(settings.topic("posts"), value=value, key=key).get(timeout=30)
    finally:
        producer.close()


def read_outcomes(settings: Settings, expected: int, timeout: float = 90,
                  context: Any = None) -> tuple[dict[str, dict], list[dict]]:
    """Results by id and dead letters, read until ``expected`` distinct posts came back
    (AssertionError, with what came back, if they do not within ``timeout``). A
    result that came back twice fails here: use :func:`outcomes` to see copies."""
    results, dead = outcomes(settings, expected, timeout, context)
    twice = {i: len(c) for i, c in results.items() if len(c) > 1}
    assert not twice, f"results came back more than once: {twice}"
    return {i: c[0] for i, c in results.items()}, dead


def outcomes(settings: Settings, expected: int, timeout: float = 90,
             context: Any = None) -> tuple[dict[str, list[dict]], list[dict]]:
    """Every result (each id's copies, in arrival order) and every dead letter,
    read until ``expected`` distinct posts came back."""
    def done(records: list[Record]) -> bool:
        return len(_distinct(settings, records)) >= expected
    done.__doc__ = f"{expected} distinct outcomes"

    records = wait_for(settings, ["enriched", "dead-letter"], done, timeout, context=context)
    results: dict[str, list[dict]] = {}
    for r in records:
        if r.topic == settings.topic("enriched"):
            results.setdefault(r.json()["id"], []).append(r.json())
    dead = [r.json() for r in records if r.topic == settings.topic("dead-letter")]
    return results, dead


def _distinct(settings: Settings, records: list[Record]) -> set:
    keys = set()
    for r in records:
        value = r.json()
        keys.add(("r", value["id"]) if r.topic == settings.topic("enriched") else ("d", value.get("partition"), value.get("offset")))
    return keys


#: sentence parts per theme for posts that cluster by theme and still differ from each other
THEMES = {
    "football": (["the football match", "that penalty kick", "our striker", "the derby tonight", "the goalkeeper"],
                 ["was incredible", "won the league", "scored twice", "made the fans cheer", "saved the game"],
                 ["in the final minute", "at the stadium", "against the champions", "after extra time", "on the pitch"]),
    "coffee": (["my morning coffee", "this espresso", "the new latte", "a cold brew", "the barista"],
               ["tastes amazing", "was way too bitter", "smells like heaven", "needs more milk", "saved my morning"],
               ["at the cafe downtown", "before work", "with oat milk", "in a huge mug", "from the roastery"]),
    "luggage": (["my suitcase", "the checked bag", "our luggage", "the baggage claim", "my carry-on"],
                ["got lost again", "never arrived", "was damaged", "took two hours", "went to the wrong city"],
                ["after the flight", "at the airport", "on the connection", "at arrivals", "during the layover"]),
    "phone": (["my phone battery", "the new smartphone", "this charger", "the screen", "the software update"],
              ["dies by noon", "overheats constantly", "cracked already", "drains the battery", "broke the camera"],
              ["after the update", "every single day", "since last week", "while charging", "out of the box"]),
}


def theme_text(theme: str, i: int) -> str:
    """A sentence on ``theme``, different for each ``i`` below 125."""
    subjects, verbs, tails = THEMES[theme]
    return f"{subjects[i % 5]} {verbs[(i // 5) % 5]} {tails[(i // 25) % 5]}"


def pip_install_plugin(root: Path, name: str, source: str, version: str = "0.1.0") -> Path:
    """Build the one-module plugin ``mmstream_<name>`` (entry point ``<name>`` in the
    ``mmstream`` group, distribution ``mmstream-<name>``) and pip-install it into
    ``root/site``, as a user installs a third-party plugin; returns the folder to
    put on PYTHONPATH."""
    src = root / "src"
    src.mkdir(parents=True)
    (src / f"mmstream_{name}.py").write_text(source)
    (src / "pyproject.toml").write_text(
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n"
        f"[project]\nname = \"mmstream-{name}\"\nversion = \"{version}\"\n"
        f"[project.entry-points.mmstream]\n{name} = \"mmstream_{name}\"\n"
        f"[tool.hatch.build.targets.wheel]\ninclude = [\"mmstream_{name}.py\"]\n")
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(src)],
                   check=True)
    return site


# -- posts, results and waits the stream tests share ------------------------------------------------------

WORDS = ("flight", "crew", "delay", "bag", "gate", "phone", "battery", "coffee", "lounge", "support", "great", "awful",
         "fine", "never", "again", "love", "hate", "late", "early", "seat")


def text_posts(n: int, prefix: str) -> list[dict]:
    """``n`` distinct text posts of varied length (deterministic)."""
    return [{"id": f"{prefix}{i}", "created_at": 1764320400 + i,
             "text": " ".join(WORDS[(i * k + k * k) % len(WORDS)] for k in range(1, 4 + i % 17)) + f" #{i}"}
            for i in range(n)]


def without_mined(result: dict) -> dict:
    """The result less its mined topics. A mined topic is the topic model's state when the post was
    processed (it grows and is relabelled as posts arrive), so a replay may see it differently; every
    other value is a function of the post alone. See README, Reliability."""
    return {**result, "topics": [t for t in result.get("topics", []) if t.get("kind") != "mined"]}


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
        return json.loads(resp.read())


def wait_for_assignment(ports: list[int], timeout: float = 60) -> None:
    def assigned():
        found = [health(p).get("assigned_partitions") for p in ports]
        return all(found) and found
    wait_until(assigned, timeout, f"partitions assigned to every worker on ports {ports}")


def on_partitions(prefix: str, partitions: int = 4) -> list[str]:
    """One post id per partition of <prefix>posts (ids are the records' keys: murmur2, as Kafka's producers)."""
    from kafka.partitioner.default import murmur2

    found: dict[int, str] = {}
    k = 0
    while len(found) < partitions:
        found.setdefault((murmur2(f"{prefix}{k}".encode()) & 0x7FFFFFFF) % partitions, f"{prefix}{k}")
        k += 1
    return [found[p] for p in range(partitions)]


def synthetic_result(i: int) -> dict:
    """A valid result record (the shape the worker writes) for post ``r<i>``."""
    score = ((i * 37) % 200 - 100) / 100
    label = "negative" if score < -0.3 else "positive" if score > 0.3 else "neutral"
    return {"schema": schemas.version("enriched"), "id": f"r{i}", "created_at": "2026-11-28T09:00:00Z",
            "brands": [["acme", "brewly"][i % 2]], "lang": "en", "lang_source": "given",
            "sentiment": {"label": label, "score": score, "probs": {"negative": 0.2, "neutral": 0.3, "positive": 0.5}},
            "topics": [], "modalities": {"text": {"chars": 20}}, "model": "synthetic"}
