"""A third-party plugin, built and pip-installed in a temp dir, is loaded from
its entry point and its report appears under ``modalities.<name>``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import pip_install_plugin


PLUGIN = '''
from mmstream import Extraction, Extractor, PostError, hookimpl


class GeoExtractor(Extractor):
    name = "geo"
    modalities = ("location",)
    dims = {}

    def validate(self, modality, value):
        if not isinstance(value, dict) or "country" not in value:
            raise PostError("bad_location", "'location' must be an object with a 'country'.", "validate")
        return value

    def extract(self, modality, values):
        return [Extraction(report={"country": v["country"].upper(), "city": v.get("city")}) for v in values]


@hookimpl
def register_extractors(settings):
    return [GeoExtractor()]
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    return pip_install_plugin(tmp_path_factory.mktemp("geo"), "geo", PLUGIN, version="1.2.3")


def run(site: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "mmstream", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=300)


def test_plugin_is_listed_with_its_source(plugin_site):
    out = run(plugin_site, "plugins")
    assert out.returncode == 0, out.stderr
    geo = [line for line in out.stdout.splitlines() if line.startswith("geo")]
    assert geo and "location" in geo[0] and "mmstream-geo 1.2.3" in geo[0]


def test_plugin_output_appears_under_its_modality(plugin_site):
    posts = [
        {"id": "a", "created_at": 0, "text": "lovely day in Lisbon", "location": {"country": "pt", "city": "Lisbon"}},
        {"id": "b", "created_at": 0, "location": {"city": "nowhere"}},
        {"id": "c", "created_at": 0, "location": {"country": "es"}},
    ]
    out = run(plugin_site, "score", "-", stdin="".join(json.dumps(p) + "\n" for p in posts))
    assert out.returncode == 3, out.stderr  # b dead-lettered: score's "some lines failed"
    a, b, c = [json.loads(line) for line in out.stdout.splitlines()]
    assert a["modalities"]["location"] == {"country": "PT", "city": "Lisbon"}
    assert "text" in a["modalities"] and a["sentiment"]["label"] in ("negative", "neutral", "positive")
    assert b["reason"] == "bad_location" and b["id"] == "b"
    assert c["modalities"] == {"location": {"country": "ES", "city": None}}
    # nothing the model reads: no opinion (sentiment null), not a made-up neutral one (issue 32 item 3)
    assert c["sentiment"] is None and c["complaint"] is None


def test_without_the_plugin_the_key_is_dead_lettered(tmp_path):
    out = run(tmp_path, "score", "-", stdin=json.dumps({"id": "x", "created_at": 0, "location": {"country": "pt"}}) + "\n")
    assert json.loads(out.stdout)["reason"] == "unknown_modality"
