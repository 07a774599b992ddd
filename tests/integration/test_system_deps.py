"""The README's test command does not skip a tier quietly (issue 32, item 12): on a machine
without chromium, a run that collects the dashboard tests fails at once with one line naming the
package; ``MMSTREAM_TESTS_WITHOUT=chromium`` skips them on purpose, saying why. The machine
without chromium is this one with a PATH that leaves it out (every other program linked)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO


ROOT = REPO
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def path_without(bin_dir: Path, left_out: tuple[str, ...]) -> str:
    """A PATH with every program of this one except ``left_out``."""
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            target = bin_dir / name
            if name not in left_out and not target.exists() and not target.is_symlink():
                target.symlink_to(Path(folder) / name)
    return str(bin_dir)


@pytest.fixture(scope="module")
def path_without_chromium(tmp_path_factory) -> str:
    return path_without(tmp_path_factory.mktemp("bin"), BROWSERS)


def pytest_run(path: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "MMSTREAM_TESTS_WITHOUT")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**clean, "PATH": path, **env})


def browser_tests() -> int:
    """How many tests tests/browser/test_dashboard.py has (collected with chromium on the PATH)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--co",
                           "tests/browser/test_dashboard.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return sum(1 for line in done.stdout.splitlines() if "::" in line)


def test_without_chromium_the_dashboard_tests_fail_the_run_in_one_line(path_without_chromium):
    count = browser_tests()
    done = pytest_run(path_without_chromium, "tests/browser/test_dashboard.py")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "chromium is missing" in line]
    assert len(lines) == 1, done.stdout[-2000:]
    assert count > 0 and f"{count} tests need it" in lines[0] and "apt-get install -y chromium" in lines[0], lines[0]
    assert "MMSTREAM_TESTS_WITHOUT=chromium" in lines[0]
    assert " passed" not in done.stdout and " skipped" not in done.stdout  # nothing ran


def test_opting_out_skips_them_with_the_reason(path_without_chromium):
    count = browser_tests()
    done = pytest_run(path_without_chromium, "tests/browser/test_dashboard.py", "-rs", MMSTREAM_TESTS_WITHOUT="chromium")
    assert done.returncode == 0, done.stdout[-2000:]
    assert count > 0 and f"{count} skipped" in done.stdout, done.stdout[-2000:]
    # one reason, reported once per place pytest skips from (a parametrized test's own line)
    reasons = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED [")]
    assert sum(int(line.split("[")[1].split("]")[0]) for line in reasons) == count, done.stdout
    assert all("apt-get install -y chromium" in line for line in reasons), done.stdout


def test_a_run_that_collects_no_such_test_is_not_stopped(path_without_chromium):
    done = pytest_run(path_without_chromium, "--co", "tests/unit/pipeline/test_post.py")
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize("module", ["tests/unit/plugins/test_audio_plugin.py", "tests/integration/test_media_pipeline.py"])
def test_without_espeak_ng_the_speech_tests_stop_the_run_or_skip_on_purpose(module, tmp_path):
    """These modules speak through tests/media_samples.py (``speak``, ``speech_wav``, the ``wav`` fixture), not
    by naming the program: without espeak-ng they used to fail (FileNotFoundError) even when opted out."""
    path = path_without(tmp_path, ("espeak-ng", "espeak"))
    stopped = pytest_run(path, module)
    assert stopped.returncode == pytest.ExitCode.USAGE_ERROR, stopped.stdout[-2000:] + stopped.stderr[-2000:]
    assert "espeak-ng is missing" in stopped.stdout + stopped.stderr and " passed" not in stopped.stdout
    skipped = pytest_run(path, module, MMSTREAM_TESTS_WITHOUT="espeak-ng")
    assert skipped.returncode == 0, skipped.stdout[-2000:]
    assert " skipped" in skipped.stdout and " failed" not in skipped.stdout and " error" not in skipped.stdout, \
        skipped.stdout[-2000:]


def test_ci_installs_every_program_the_tests_need():
    from system_deps import REQUIREMENTS

    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    for req in REQUIREMENTS:
        for package in req.apt.split():
            assert f"apt_missing+=({package})" in ci or f"apt_missing+=({package} " in ci, package
        assert req.name in readme.split("## Commands")[0], f"the README's test section does not name {req.name}"
    assert "MMSTREAM_TESTS_WITHOUT" in readme
