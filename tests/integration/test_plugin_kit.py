"""``mmstream plugins new demo_plugin`` writes a package that pip installs and that passes
its own tests (with mmstream.testing's fixtures) as generated; a post with its modality
gets ``modalities.demo_plugin`` through ``mmstream score`` and through a real worker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmstream.testing import Worker
from paths import REPO



def mmstream(*args: str, site: Path | None = None, stdin: str = "", cwd: Path | None = None
             ) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"PYTHONPATH": str(site)} if site else {})}
    return subprocess.run([sys.executable, "-m", "mmstream", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    """The generated package, pip-installed (as a user installs it) into a folder of its own."""
    root = tmp_path_factory.mktemp("kit")
    out = mmstream("plugins", "new", "demo_plugin", "--dir", str(root))
    assert out.returncode == 0, out.stderr
    package = root / "demo_plugin"
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(package)],
                   check=True)
    return package, site


def test_the_package_has_what_a_plugin_needs(demo):
    package, _ = demo
    assert sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()) == [
        "README.md", "demo_plugin/__init__.py", "pyproject.toml", "tests/test_demo_plugin.py"]
    pyproject = (package / "pyproject.toml").read_text()
    assert '[project.entry-points.mmstream]\ndemo_plugin = "demo_plugin"' in pyproject
    module = (package / "demo_plugin" / "__init__.py").read_text()
    imports = [line for line in module.splitlines() if line.startswith(("from mmstream", "import mmstream"))]
    assert imports == ["from mmstream.plugin import Extraction, Extractor, Settings, check_text, hookimpl"]


def test_the_generated_tests_pass(demo):
    package, site = demo
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed" in out.stdout


def test_listed_and_scored(demo):
    _, site = demo
    listed = {i["name"]: i for i in json.loads(mmstream("plugins", "--json", site=site).stdout)}
    assert listed["demo_plugin"]["modalities"] == ["demo_plugin"]
    assert listed["demo_plugin"]["source"] == "mmstream-demo-plugin 0.1.0"
    assert listed["demo_plugin"]["hooks"] == ["register_extractors"]
    posts = [{"id": "d1", "created_at": 0, "text": "love it", "demo_plugin": "two words"},
             {"id": "d2", "created_at": 0, "demo_plugin": ["not", "text"]}]
    out = mmstream("score", "-", site=site, stdin="".join(json.dumps(p) + "\n" for p in posts))
    assert out.returncode == 3, out.stderr  # d2 was dead-lettered: "some lines failed"
    d1, d2 = (json.loads(line) for line in out.stdout.splitlines())
    assert d1["modalities"]["demo_plugin"] == {"chars": 9, "words": 2} and "text" in d1["modalities"]
    assert d2["reason"] == "wrong_type" and d2["stage"] == "validate"


def test_its_own_settings_namespace(demo):
    _, site = demo
    post = json.dumps({"id": "long", "created_at": 0, "demo_plugin": "x" * 20}) + "\n"
    env_out = subprocess.run([sys.executable, "-m", "mmstream", "score", "-"], input=post, capture_output=True,
                             text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(site), "MMSTREAM_PLUGIN_DEMO_PLUGIN_MAX_CHARS": "10"})
    assert json.loads(env_out.stdout)["reason"] == "too_long"


def test_through_a_worker_on_the_embedded_broker(demo, settings, tmp_path):
    _, site = demo
    worker = Worker(settings, tmp_path / "worker.log", env={"PYTHONPATH": str(site)})
    try:
        worker.produce([{"id": "w1", "created_at": 0, "demo_plugin": "hello from kafka"},
                        {"id": "w2", "created_at": 0, "demo_plugin": 7}])
        results, dead = worker.outcomes(2)
    finally:
        worker.stop()
    assert results["w1"]["modalities"]["demo_plugin"] == {"chars": 16, "words": 3}
    assert [(d["id"], d["reason"]) for d in dead] == [("w2", "wrong_type")]


def test_a_bad_name_is_refused(tmp_path):
    out = mmstream("plugins", "new", "Demo-Plugin", "--dir", str(tmp_path))
    assert out.returncode == 2 and "Python identifier" in out.stderr
    assert not any(tmp_path.iterdir())


def test_the_next_steps_install_pytest_and_mmstream_from_its_checkout(tmp_path):
    """A fresh venv has no pytest, and mmstream is not on PyPI (issue 32, item 11): the kit's "next:"
    line, the generated README and docs/plugins.md install the package with its ``test`` extra and
    say that mmstream comes first, from its checkout."""
    out = mmstream("plugins", "new", "next_plugin", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    root = tmp_path / "next_plugin"
    checkout = REPO
    assert f"pip install -e '{root}[test]' && (cd {root} && pytest)" in out.stderr, out.stderr
    assert "not on PyPI" in out.stderr and f"pip install -e {checkout}" in out.stderr, out.stderr
    assert 'test = ["pytest>=8"]' in (root / "pyproject.toml").read_text()
    readme = (root / "README.md").read_text()
    assert "pip install -e '.[test]'" in readme and "not on PyPI" in readme
    docs = (checkout / "docs" / "plugins.md").read_text()
    assert "pip install -e 'my_plugin[test]' && (cd my_plugin && pytest)" in docs
    assert "not on PyPI" in docs and "pip install -e my_plugin &&" not in docs
