"""Test helpers: real worker processes and reading their output back."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from mmstream.kafka.clients import Record, consume, produce_jsonl
from mmstream.settings import Settings


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


def read_outcomes(settings: Settings, expected: int, timeout: float = 90) -> tuple[dict[str, dict], list[dict]]:
    """Results by id and dead letters, read until ``expected`` distinct posts came back."""
    def done(records: list[Record]) -> bool:
        return len(_distinct(settings, records)) >= expected

    records = consume(settings, [settings.topic("enriched"), settings.topic("dead-letter")], until=done, timeout=timeout)
    results = {r.json()["id"]: r.json() for r in records if r.topic == settings.topic("enriched")}
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
