"""A plugin may not take a name that is taken (issue 32, item 2). ``mmstream plugins new text`` once
wrote ``mmstream-text``; installing it uninstalled the built-in text plugin and every text post
scored neutral at 1/3 each, with no error anywhere. Now the kit refuses such names, and startup
fails loudly when an input the shipped fused model was trained on has no plugin (unless that
plugin is disabled on purpose)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


TEXT_POST = json.dumps({"id": "t1", "created_at": 0, "text": "the crew was lovely"}) + "\n"

#: what ``plugins new text`` generated: a report-only extractor of the modality ``text``
IMPOSTOR = '''
from mmstream.plugin import Extraction, Extractor, check_text, hookimpl


class TextExtractor(Extractor):
    name = "text"
    modalities = ("text",)
    dims = {}

    def validate(self, modality, value):
        return check_text(modality, value)

    def extract(self, modality, values):
        return [Extraction(report={"chars": len(v)}) for v in values]


@hookimpl
def register_extractors(settings):
    return [TextExtractor()]
'''


def mmstream(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MMSTREAM_")}
    if env and "PYTHONPATH" in env and os.environ.get("PYTHONPATH"):
        env = {**env, "PYTHONPATH": env["PYTHONPATH"] + os.pathsep + os.environ["PYTHONPATH"]}
    return subprocess.run([sys.executable, "-m", "mmstream", *args], input=stdin, capture_output=True, text=True,
                          timeout=300, env={**base, "MMSTREAM_ONNX_THREADS": "1", **(env or {})})


@pytest.mark.parametrize("name, why", [
    ("text", "the distribution mmstream-text"),         # the built-in plugin's distribution
    ("image", "the distribution mmstream-image"),
    ("analytics", "a built-in plugin of mmstream"),       # a default plugin inside mmstream
    ("text_sentiment", "feature of the installed plugin 'text'"),  # a text view, a model input
    ("image_text", "of the installed plugin"),             # a derived modality
    ("images", "of the installed plugin 'image'"),         # a modality
    ("numpy", "numpy"),                                    # any installed distribution
    ("created_at", "a field of every post"),
])
def test_the_kit_refuses_a_name_that_is_taken(tmp_path, name, why):
    out = mmstream("plugins", "new", name, "--dir", str(tmp_path))
    assert out.returncode == 2, out.stderr
    assert f"{name!r} cannot name a new plugin" in out.stderr and why in out.stderr, out.stderr
    assert f"e.g. my_{name}" in out.stderr
    assert not any(tmp_path.iterdir())


def test_a_free_name_is_still_accepted(tmp_path):
    out = mmstream("plugins", "new", "my_text", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "my_text" / "pyproject.toml").is_file()


@pytest.fixture(scope="module")
def impostor(tmp_path_factory) -> Path:
    """A distribution ``mmstream-text`` whose ``text`` plugin gives no features, found before the
    built-in one (PYTHONPATH comes first on sys.path): the built-in as good as uninstalled."""
    site = tmp_path_factory.mktemp("impostor")
    (site / "fake_text").mkdir()
    (site / "fake_text" / "__init__.py").write_text(IMPOSTOR)
    info = site / "mmstream_text-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmstream-text\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[mmstream]\ntext = fake_text\n")
    return site


def test_startup_fails_loudly_when_a_model_input_has_no_plugin(impostor):
    out = mmstream("score", "-", stdin=TEXT_POST, env={"PYTHONPATH": str(impostor)})
    assert out.returncode == 2 and out.stdout == "", out.stdout[:500] + out.stderr[-2000:]
    err = out.stderr
    assert "the fused model" in err and "text_sentiment" in err, err
    assert "the plugin named 'text' (mmstream-text 0.1.0) does not declare them (its features: none" in err, err
    assert "pip install -e plugins/text" in err and "MMSTREAM_PLUGINS_DISABLED=text" in err, err


def test_a_plugin_disabled_on_purpose_is_not_an_error(impostor):
    out = mmstream("score", "-", stdin=TEXT_POST, env={"PYTHONPATH": str(impostor), "MMSTREAM_PLUGINS_DISABLED": "text"})
    assert "the fused model" not in out.stderr, out.stderr
    assert json.loads(out.stdout)["reason"] == "unknown_modality"  # said so, per post: no text plugin


def test_the_installed_plugins_give_every_model_input(mmstream_pipeline):
    pipeline = mmstream_pipeline
    given = {f for e in pipeline.extractors.values() for f in e.dims}
    assert set(pipeline.model.modalities) <= given
