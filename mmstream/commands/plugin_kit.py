"""``mmstream plugins new NAME [--dir D]``: a ready plugin package that installs with
pip and passes its own test as generated.

``D/NAME/`` gets ``pyproject.toml`` (distribution ``mmstream-<name>``, the ``mmstream``
entry point ``NAME = "NAME"``), ``NAME/__init__.py`` (an extractor for the modality
``NAME``, built only from :mod:`mmstream.plugin`), ``tests/test_NAME.py`` (with the
fixtures of :mod:`mmstream.testing`) and ``README.md``.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

from mmstream import __version__
from mmstream.errors import ConfigError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

PYPROJECT = '''[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "mmstream-{dist}"
version = "0.1.0"
description = "mmstream plugin: the {name} modality"
requires-python = ">=3.11"
dependencies = ["mmstream>={mmstream_version}"]

[project.optional-dependencies]
test = ["pytest>=8"]

# how mmstream finds the plugin: the `mmstream` entry-point group
[project.entry-points.mmstream]
{name} = "{name}"

[tool.hatch.build.targets.wheel]
packages = ["{name}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

MODULE = '''"""mmstream plugin: the ``{name}`` modality.

A post carrying ``"{name}": "some text"`` gets ``modalities.{name}`` in its result:
the number of characters and words. Replace :meth:`{cls}.extract` with what your
modality needs; see docs/plugins.md of mmstream for every hook.
"""
from __future__ import annotations

from mmstream.plugin import Extraction, Extractor, Settings, check_text, hookimpl


class {cls}(Extractor):
    name = "{name}"
    modalities = ("{name}",)
    dims: dict[str, int] = {{}}  # no features for the fused model: a report only

    def __init__(self, settings: Settings) -> None:
        # this plugin's own settings: MMSTREAM_PLUGIN_{upper}_MAX_CHARS=...
        self.max_chars = int(settings.plugin("{name}").get("max_chars", 10_000))

    def validate(self, modality, value):
        """Cheap checks per post; a PostError dead-letters the post with its reason."""
        return check_text(modality, value, self.max_chars)

    def extract(self, modality, values):
        """One call per micro-batch: one Extraction (or an exception) per value, in order."""
        return [Extraction(report={{"chars": len(v), "words": len(v.split())}}) for v in values]


@hookimpl
def register_extractors(settings):
    return [{cls}(settings)]
'''

TEST = '''"""{name}'s own tests, with the fixtures of mmstream.testing (a pytest plugin shipped with mmstream)."""


def test_a_post_gets_its_report_under_the_modality(make_post, mmstream_score):
    [result] = mmstream_score([make_post({name}="hello plugin world")])
    assert result["modalities"]["{name}"] == {{"chars": 18, "words": 3}}


def test_a_value_that_is_not_text_is_dead_lettered_with_its_reason(make_post, mmstream_score):
    [dead] = mmstream_score([make_post({name}=42)])
    assert dead["reason"] == "wrong_type" and "'{name}'" in dead["detail"]


def test_the_plugin_is_loaded_from_its_entry_point(mmstream_pipeline):
    assert type(mmstream_pipeline.extractors["{name}"]).__module__ == "{name}"
'''

README = '''# mmstream-{dist}

An [mmstream](https://example.invalid/mmstream) plugin: the `{name}` modality. A post with
`"{name}": "some text"` gets `modalities.{name}` = `{{"chars": ..., "words": ...}}` in its result.

```sh
# mmstream is not on PyPI: install it first into this venv from its checkout (pip install -e /path/to/mmstream)
pip install -e '.[test]'    # mmstream finds it through the `mmstream` entry point; [test] brings pytest
mmstream plugins            # lists {name} with its hooks, modalities, version and source
pytest                      # its own tests (fixtures from mmstream.testing)
echo '{{"id": "1", "created_at": 0, "{name}": "hello"}}' | mmstream score -
```

Settings: `MMSTREAM_PLUGIN_{upper}_MAX_CHARS` (default 10000): longer values are dead-lettered
(`too_long`).
'''


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def taken(name: str) -> str | None:
    """Why ``name`` would clash with what is installed, or None. The generated package is the
    distribution ``mmstream-<name>`` with the module ``name``, the plugin ``name`` and the modality
    ``name``: installing it over an installed distribution of that name replaces it (``plugins new
    text`` once uninstalled the built-in text plugin, and every text post scored neutral, silently);
    a taken module, plugin name or modality shadows or collides with the one there is."""
    import importlib.metadata
    import json

    from mmstream.pipeline.post import META_KEYS
    from mmstream.plugin.manager import DEFAULT_PLUGINS, ENTRY_POINT_GROUP, get_plugin_manager
    from mmstream.settings import Settings

    if name in META_KEYS:
        return f"{name!r} is a field of every post ({', '.join(META_KEYS)})"
    dists = {_canonical(d.metadata["Name"] or ""): d for d in importlib.metadata.distributions()}
    for dist_name in (f"mmstream-{name}", name):
        if _canonical(dist_name) in dists:
            dist = dists[_canonical(dist_name)]
            return (f"the distribution {dist.metadata['Name']} {dist.version} is installed: a plugin package "
                    "of that name would replace or shadow it")
    modules = importlib.metadata.packages_distributions()
    if name in modules:
        return f"a module named {name!r} is installed already (from {', '.join(sorted(set(modules[name])))})"
    if name in DEFAULT_PLUGINS:
        return f"{name!r} is a built-in plugin of mmstream"
    plugins = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in plugins:
        return f"a plugin named {name!r} is installed ({plugins[name]})"
    settings = Settings.load(plugin_errors="skip")
    features: dict[str, str] = {}  # modality or feature -> the plugin that has it
    pm = get_plugin_manager(settings)
    for impl in pm.hook.register_extractors.get_hookimpls():
        try:
            extractors = impl.function(**{arg: {"settings": settings}[arg] for arg in impl.argnames}) or []
        except Exception:  # noqa: BLE001 - a broken plugin is `mmstream plugins`'s to report, not the kit's
            continue
        for extractor in extractors:
            for key in (*extractor.modalities, *extractor.dims, *getattr(extractor, "text_views", ())):
                features.setdefault(key, impl.plugin_name)
    if name in features:
        return f"{name!r} is a modality or feature of the installed plugin {features[name]!r}"
    config = Path(settings.model_dir) / "config.json"
    inputs = json.loads(config.read_text()).get("modalities", {}) if config.is_file() else {}
    if name in inputs:
        return f"{name!r} is an input of the fused model ({config})"
    return None


def new_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write the package for plugin ``name`` under ``directory``; its folder."""
    if not NAME_RE.match(name) or keyword.iskeyword(name) or name in ("mmstream", "test", "tests"):
        raise ConfigError(f"{name!r} cannot name a plugin: use a Python identifier in lower case "
                          "(letters, digits, underscores; e.g. demo_plugin)")
    clash = taken(name)
    if clash:
        raise ConfigError(f"{name!r} cannot name a new plugin: {clash}; pick another name, e.g. my_{name}")
    root = Path(directory) / name
    if root.exists():
        raise ConfigError(f"{root} already exists; pick another name or --dir")
    values = {"name": name, "dist": name.replace("_", "-"), "upper": name.upper(),
              "cls": "".join(part.title() for part in name.split("_")) + "Extractor",
              "mmstream_version": __version__}
    files = {"pyproject.toml": PYPROJECT, f"{name}/__init__.py": MODULE, f"tests/test_{name}.py": TEST,
             "README.md": README}
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return root


def next_steps(root: Path) -> str:
    """What to run after ``plugins new``: mmstream first (it is not on PyPI: from its checkout,
    named when this mmstream is one), then the package with its ``test`` extra (pytest), then its tests."""
    import mmstream

    checkout = Path(mmstream.__file__).resolve().parents[1]
    source = str(checkout) if (checkout / "pyproject.toml").is_file() else "/path/to/mmstream"
    return (f"next, in a venv where mmstream is installed (it is not on PyPI: pip install -e {source}, from its "
            f"checkout, first):\n  pip install -e '{root}[test]' && (cd {root} && pytest)")
