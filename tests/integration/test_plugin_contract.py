"""The plugin contract is loud: a misspelled hook or a plugin that fails to import is
named at startup (fatal, or reported and skipped with MMSTREAM_PLUGIN_ERRORS=skip), and
``mmstream plugins`` lists every plugin with its hooks, modalities, version and source."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import pip_install_plugin

from mmstream.errors import ConfigError, PluginError
from mmstream.pipeline.build import build_pipeline
from mmstream.plugin import Enricher, Sink, hookimpl
from mmstream.plugin.manager import get_plugin_manager
from mmstream.settings import Settings


MISSPELLED = '''
from mmstream.plugin import Extraction, Extractor, hookimpl

class Shout(Extractor):
    name = "shout"
    modalities = ("shout",)

    def extract(self, modality, values):
        return [Extraction(report={"n": len(v)}) for v in values]

@hookimpl
def register_extractor(settings):  # the hook is register_extractors
    return [Shout()]
'''

BROKEN = '''
import a_module_that_does_not_exist  # noqa
'''

COMMAND = '''
from mmstream.plugin import hookimpl

def hello(args):
    print(f"hello {args.who}")
    return 3

@hookimpl
def register_commands(subparsers):
    p = subparsers.add_parser("hello", help="say hello", description="Say hello.")
    p.add_argument("who")
    p.set_defaults(func=hello)
'''


def run(site: Path | None, *args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **({"PYTHONPATH": str(site)} if site else {}), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mmstream", *args], input=stdin, env=full, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def misspelled_site(tmp_path_factory) -> Path:
    return pip_install_plugin(tmp_path_factory.mktemp("shout"), "shout", MISSPELLED)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    return pip_install_plugin(tmp_path_factory.mktemp("broken"), "broken", BROKEN, version="0.0.1")


POST = json.dumps({"id": "p1", "created_at": 0, "text": "hello there"}) + "\n"


def test_a_misspelled_hook_fails_at_startup_with_its_name(misspelled_site):
    out = run(misspelled_site, "score", "-", stdin=POST)
    assert out.returncode == 2 and out.stdout == ""
    assert "'shout'" in out.stderr and "'register_extractor'" in out.stderr
    assert "did you mean 'register_extractors'" in out.stderr


def test_a_misspelled_hook_in_process():
    class Typo:
        name = "typo"

        @hookimpl
        def register_enricher(self, settings):
            return []

    with pytest.raises(PluginError, match=r"plugin 'typo' .*'register_enricher'.*did you mean 'register_enrichers'"):
        get_plugin_manager(Settings(), plugins=[Typo()])


def test_a_plugin_that_fails_to_import_is_fatal_by_default(broken_site):
    out = run(broken_site, "score", "-", stdin=POST)
    assert out.returncode == 2
    assert "plugin 'broken' (mmstream-broken 0.0.1)" in out.stderr and "a_module_that_does_not_exist" in out.stderr
    assert "MMSTREAM_PLUGIN_ERRORS=skip" in out.stderr


def test_a_plugin_that_fails_to_import_is_skipped_when_asked(broken_site):
    out = run(broken_site, "score", "-", stdin=POST, env={"MMSTREAM_PLUGIN_ERRORS": "skip"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id"] == "p1"
    assert "plugin 'broken'" in out.stderr and "skipped" in out.stderr


def test_plugins_lists_hooks_modalities_version_source_and_failures(broken_site):
    out = run(broken_site, "plugins", "--json")
    assert out.returncode == 0, out.stderr
    infos = {i["name"]: i for i in json.loads(out.stdout)}
    assert infos["text"]["modalities"] == ["text"] and infos["text"]["hooks"] == ["register_extractors"]
    assert infos["text"]["source"].startswith("mmstream-text ") and infos["text"]["version"]
    assert infos["image"]["modalities"] == ["images", "video_frames"]
    assert {"register_enrichers", "register_sinks", "extend_worker"} <= set(infos["analytics"]["hooks"])
    assert "built-in" in infos["analytics"]["source"]
    assert "a_module_that_does_not_exist" in infos["broken"]["error"]
    table = run(broken_site, "plugins")
    assert table.returncode == 1  # a broken plugin is not a clean bill of health
    assert any(line.startswith("broken") and "FAILED" in line for line in table.stdout.splitlines())


def test_enrichers_and_sinks_from_a_plugin_run_after_the_builtins():
    seen: list[list[str]] = []

    class Shouty(Enricher):
        name = "shouty"

        def enrich_item(self, item):
            item.add("shouty", item.values["text"].upper())

    class Collect(Sink):
        name = "collect"

        def write(self, items):
            seen.append([i.record["id"] for i in items])

    class Plugin:
        name = "shouty-plugin"

        @hookimpl
        def register_enrichers(self, settings):
            return [Shouty()]

        @hookimpl
        def register_sinks(self):
            return [Collect()]

    pipeline = build_pipeline(Settings.load(), plugins=[Plugin()])  # its own: with the test's sink
    assert [e.name for e in pipeline.enrichers] == ["topics", "duplicates", "shouty"]
    outcomes = pipeline.process([(json.dumps({"id": f"p{i}", "created_at": 0, "text": f"post {i}"}).encode(), None)
                                 for i in range(3)] + [(b"not json", None)])
    assert [o.kind for o in outcomes] == ["result"] * 3 + ["dead_letter"]
    assert outcomes[0].record["shouty"] == "POST 0"
    assert seen == [["p0", "p1", "p2"]]  # final results only, once


def test_a_plugin_returning_the_wrong_type_is_named():
    class Wrong:
        name = "wrong"

        @hookimpl
        def register_sinks(self):
            return ["not a sink"]

    with pytest.raises(PluginError, match=r"plugin 'wrong': register_sinks returned 'not a sink', not an mmstream.Sink"):
        build_pipeline(Settings.load(), plugins=[Wrong()])


def test_per_plugin_settings_namespace(monkeypatch):
    monkeypatch.setenv("MMSTREAM_PLUGIN_DEMO_PLUGIN_MAX_CHARS", "12")
    monkeypatch.setenv("MMSTREAM_PLUGIN_DEMO_OTHER", "no")  # plugin "demo", not "demo_plugin"
    monkeypatch.setenv("MMSTREAM_PLUGIN_TIMEOUT", "5")  # a setting of mmstream's own, not a plugin's
    settings = Settings.load(plugin_options={"demo_plugin": {"Mode": "fast"}})
    assert dict(settings.plugin("demo_plugin")) == {"max_chars": "12", "mode": "fast"}
    assert dict(settings.plugin("demo")) == {"other": "no", "plugin_max_chars": "12"}
    assert settings.plugin_timeout == 5.0 and dict(settings.plugin("nothing")) == {}
    with pytest.raises(TypeError):
        settings.plugin("demo_plugin")["mode"] = "slow"  # read-only
    assert "max_chars" not in repr(settings) and "12" not in repr(settings).split("plugin_timeout")[0][-40:]


def test_a_plugin_adds_a_command(tmp_path):
    site = pip_install_plugin(tmp_path, "hello", COMMAND)
    out = run(site, "hello", "world")
    assert (out.returncode, out.stdout) == (3, "hello world\n"), out.stderr
    assert "say hello" in run(site, "--help").stdout
    assert "Say hello." in run(site, "hello", "--help").stdout


def test_plugins_lists_a_plugin_whose_hook_fails_with_its_error(tmp_path):
    site = pip_install_plugin(tmp_path, "crashy", "from mmstream.plugin import hookimpl\n\n"
                              "@hookimpl\ndef register_extractors(settings):\n    raise RuntimeError('no model file')\n")
    out = run(site, "plugins", "--json")
    infos = {i["name"]: i for i in json.loads(out.stdout)}
    assert "no model file" in infos["crashy"]["error"] and infos["text"]["error"] is None
    scored = run(site, "score", "-", stdin=POST)
    assert scored.returncode == 2 and "plugin 'crashy' failed in register_extractors" in scored.stderr


def test_a_disabled_plugin_is_not_loaded_and_its_modality_is_dead_lettered():
    """MMSTREAM_PLUGINS_DISABLED=image: no image extractor (nor its models) in the pipeline; an image post is
    dead-lettered with a reason, a text post is scored; a misspelt name is an error that names the right one."""
    settings = Settings.load(plugins_disabled="image")
    pm = get_plugin_manager(settings)
    assert pm.is_blocked("image") and pm.get_plugin("image") is None and pm.get_plugin("text") is not None
    pipeline = build_pipeline(settings, pm=pm)  # its own: the image plugin disabled
    assert "images" not in pipeline.validators and "text" in pipeline.validators
    out = run(None, "score", "-", stdin=POST + '{"id": "p2", "created_at": 0, "images": [{"b64": "AAAA"}]}\n',
              env={"MMSTREAM_PLUGINS_DISABLED": "image"})
    assert out.returncode == 3, out.stderr  # p2 dead-lettered: score's "some lines failed"
    records = {r["id"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert records["p1"]["sentiment"]["label"] and records["p2"]["reason"] == "unknown_modality"
    listed = run(None, "plugins", env={"MMSTREAM_PLUGINS_DISABLED": "image"})
    assert any(line.startswith("image") and "disabled" in line for line in listed.stdout.splitlines())
    with pytest.raises(ConfigError, match="did you mean 'image'"):
        get_plugin_manager(Settings.load(plugins_disabled="imgae"))
