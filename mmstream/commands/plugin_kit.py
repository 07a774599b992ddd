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
pip install -e .            # mmstream finds it through the `mmstream` entry point
mmstream plugins            # lists {name} with its hooks, modalities, version and source
pytest                      # its own tests (fixtures from mmstream.testing)
echo '{{"id": "1", "created_at": 0, "{name}": "hello"}}' | mmstream score -
```

Settings: `MMSTREAM_PLUGIN_{upper}_MAX_CHARS` (default 10000): longer values are dead-lettered
(`too_long`).
'''


def new_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write the package for plugin ``name`` under ``directory``; its folder."""
    if not NAME_RE.match(name) or keyword.iskeyword(name) or name in ("mmstream", "test", "tests"):
        raise ConfigError(f"{name!r} cannot name a plugin: use a Python identifier in lower case "
                          "(letters, digits, underscores; e.g. demo_plugin)")
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
