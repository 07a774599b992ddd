"""The example third-party plugin (plugins/examples/emoji), installed from there with pip
into a folder of its own (the rest of the suite never loads it): listed by ``mmstream
plugins``, its own tests pass (mmstream.testing's fixtures, a worker among them), and
it works through ``mmstream score``."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO


EXAMPLE = REPO / "plugins" / "examples" / "emoji"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("emoji") / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(EXAMPLE)],
                   check=True)
    return target


def env(site: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "MMSTREAM_ONNX_THREADS": "1"}


def test_built_only_from_the_public_plugin_api():
    for path in (EXAMPLE / "mmstream_emoji").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mmstream"):
                assert node.module in ("mmstream.plugin",) or node.module.startswith("mmstream_emoji"), (path, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("mmstream.") for a in node.names), path


def test_listed_by_mmstream_plugins(site):
    out = subprocess.run([sys.executable, "-m", "mmstream", "plugins", "--json"], env=env(site), capture_output=True,
                         text=True, timeout=300)
    emoji = {i["name"]: i for i in json.loads(out.stdout)}["emoji"]
    assert emoji["source"] == "mmstream-emoji 0.2.0" and sorted(emoji["modalities"]) == ["link", "reactions"]
    assert emoji["hooks"] == ["register_enrichers", "register_extractors", "register_routes"]


def test_its_own_tests_pass_from_plugins_examples(site):
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=EXAMPLE, env=env(site),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "15 passed" in out.stdout


def test_through_mmstream_score(site):
    posts = [{"id": "e1", "created_at": 0, "text": "best day ever 🎉🎉👍", "reactions": {"haha": 3, "love": 9}},
             {"id": "e2", "created_at": 0, "text": "no reactions on this one"}]
    out = subprocess.run([sys.executable, "-m", "mmstream", "score", "-"], env=env(site), capture_output=True,
                         text=True, timeout=300, input="".join(json.dumps(p) + "\n" for p in posts))
    assert out.returncode == 0, out.stderr
    e1, e2 = (json.loads(line) for line in out.stdout.splitlines())
    assert e1["emoji"] == {"count": 3, "top": ["🎉", "👍"], "positive": 3, "negative": 0}
    assert e1["modalities"]["reactions"]["top"] == "love" and e1["modalities"]["reactions"]["total"] == 12
    assert "reactions" not in e2["modalities"] and e2["emoji"]["count"] == 0


def test_a_text_producing_modality_joins_the_text_path_with_no_change_in_mmstream(site, tmp_path):
    """Issue 26: the example plugin's ``link`` modality hands the card's words on as the text view
    ``link_text``; nothing under mmstream/ names it, yet a post whose brand is only in its card is matched
    to that brand and gets the card's sentiment, as the same words sent as text would."""
    brands = tmp_path / "brands.toml"
    brands.write_text('[brands.acme]\naliases = ["acme air"]\n')
    words = "Acme Air cancels 200 flights, strands thousands. Passengers say nobody answers the phone."
    posts = [{"id": "card", "created_at": 0, "link": {"url": "https://news.example.com/a", "title": words}},
             {"id": "text", "created_at": 0, "text": words},
             {"id": "other", "created_at": 0, "link": {"url": "https://news.example.com/b", "title": "A quiet lake"}}]
    out = subprocess.run([sys.executable, "-m", "mmstream", "score", "-", "--brands", str(brands)], env=env(site),
                         capture_output=True, text=True, timeout=300, input="".join(json.dumps(p) + "\n" for p in posts))
    assert out.returncode == 0, out.stderr
    card, text, other = (json.loads(line) for line in out.stdout.splitlines())
    assert card["brands"] == text["brands"] == ["acme"] and other["brands"] == []
    assert card["sentiment"]["label"] == text["sentiment"]["label"] == "negative"
    assert card["lang"] == "en" and card["modalities"]["link"] == {"domain": "news.example.com"}
    names = {node.value for path in (REPO / "mmstream").rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not {"link", "link_text"} & names  # mmstream itself never names the plugin's modality
