"""What the tests need from the machine besides Python packages, checked once a run is collected.

A tier whose program is missing used to skip quietly (the 8 dashboard tests without chromium):
a skip that hides a tier is not a pass. Now a run that collected tests needing a missing program
stops before running anything, with one line naming the apt package to install. Whoever means to
run without a tier says so: ``MMSTREAM_TESTS_WITHOUT=chromium,espeak-ng`` (names from
:data:`REQUIREMENTS`) skips exactly those tests, each with the reason.
"""
from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

#: the variable that lists the programs a run goes without, on purpose
OPT_OUT = "MMSTREAM_TESTS_WITHOUT"


@functools.lru_cache(maxsize=None)
def _source(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _module_mentions(*needles: str) -> Callable[[pytest.Item], bool]:
    """The test's module runs the program (its source names it)."""
    return lambda item: any(n in _source(str(item.path)) for n in needles)


def _java_and_jars() -> bool:
    from realkafka import kafka_home

    fetched = (kafka_home() / "libs.complete").is_file()
    return shutil.which("java") is not None and (fetched or shutil.which("mvn") is not None)


def _chromium() -> bool:
    from browser import chromium_path

    return chromium_path() is not None


#: axe-core from npm, pinned in tests/browser/package-lock.json (tests/browser/test_accessibility.py loads it)
AXE = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"


#: tests/media_samples.py's helpers and fixtures that run espeak-ng
SPEECH_HELPERS = ("speak(", "speech_wav(")
SPEECH_FIXTURES = {"wav", "spoken"}


def _speech(item: pytest.Item) -> bool:
    """The test speaks: its module runs espeak-ng itself or through a media_samples helper, or it takes a
    fixture that does."""
    return (_module_mentions('"espeak-ng"', 'shutil.which("espeak', *SPEECH_HELPERS)(item)
            or bool(SPEECH_FIXTURES & set(getattr(item, "fixturenames", ()))))


def _postgres() -> bool:
    from pgserver import pg_bin

    return pg_bin() is not None


@dataclass(frozen=True)
class Requirement:
    name: str  # what MMSTREAM_TESTS_WITHOUT names
    apt: str  # what to install (Debian)
    what: str  # the tier, for the message
    present: Callable[[], bool]
    needed_by: Callable[[pytest.Item], bool]
    fix: str = ""  # the command that installs it, when apt-get alone does not

    @property
    def install(self) -> str:
        return self.fix or f"apt-get install -y {self.apt}"


REQUIREMENTS = (
    Requirement("chromium", "chromium", "the dashboard tests (a headless browser)", _chromium,
                _module_mentions("from browser import", "import browser")),
    Requirement("postgresql", "postgresql", "the PostgreSQL sink tests", _postgres,
                lambda item: "postgres" in getattr(item, "fixturenames", ())),
    Requirement("java", "openjdk-17-jre-headless maven", "the real-Kafka tier (Java 17; Maven fetches the jars once)",
                _java_and_jars, lambda item: item.get_closest_marker("realkafka") is not None),
    Requirement("espeak-ng", "espeak-ng", "the audio and video tests (speech made with espeak-ng)",
                lambda: shutil.which("espeak-ng") is not None, _speech),
    Requirement("axe-core", "npm", "the accessibility tests (axe-core from npm, in the browser)", AXE.is_file,
                _module_mentions("system_deps import AXE"),
                fix="apt-get install -y npm && npm ci --prefix tests/browser"),
)


def check(items: list[pytest.Item]) -> None:
    """Stop the run (one line) when collected tests need a missing program that is not opted out;
    skip the tests of an opted-out one, with the reason."""
    without = {n.strip() for n in os.environ.get(OPT_OUT, "").split(",") if n.strip()}
    unknown = without - {r.name for r in REQUIREMENTS}
    if unknown:
        raise pytest.UsageError(f"{OPT_OUT} names {', '.join(sorted(unknown))}; the names are "
                                f"{', '.join(r.name for r in REQUIREMENTS)}")
    missing = []
    for req in REQUIREMENTS:
        needing = [item for item in items if req.needed_by(item)]
        if not needing or req.present():
            continue
        if req.name in without:
            reason = f"{req.name} is not installed and {OPT_OUT} names it ({req.install})"
            for item in needing:
                item.add_marker(pytest.mark.skip(reason=reason))
            continue
        missing.append(f"{req.name} is missing: {len(needing)} tests need it, {req.what}; {req.install} "
                       f"(.ci/run does), or {OPT_OUT}={req.name} to skip them on purpose")
    if missing:
        pytest.exit("; ".join(missing), returncode=pytest.ExitCode.USAGE_ERROR)
