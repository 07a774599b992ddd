"""mmstream's own test helpers. The worker process, producing, reading outcomes back and the waits
come from :mod:`mmstream.testing` (what mmstream ships to plugin authors' tests: one source for both),
re-exported here under the names the tests use; this module keeps what is the project's alone: raw
records, themed posts, the pip-installed test plugins, health and partition helpers, synthetic results."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from mmstream import schemas
from mmstream.settings import Settings
from mmstream.testing import (Record, Until, consume, outcomes, produce, read_all, read_outcomes, record_key,
                              run_worker, wait_for, wait_until)
from mmstream.testing import Worker as WorkerProcess
from mmstream.testing import worker_env as settings_env

__all__ = ["Record", "Until", "WorkerProcess", "consume", "outcomes", "produce", "read_all", "read_outcomes",
           "record_key", "run_worker", "settings_env", "wait_for", "wait_until"]


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


#: a brands file for the brand-matching tests (handles, hashtags, a name with spaces, another script)
BRANDS = """
[brands.united]
aliases = ["@united", "united airlines", "#unitedairlines"]

[brands.delta]
name = "Delta Air Lines"

[brands.sony]
aliases = ["ソニー", "sony"]
"""
