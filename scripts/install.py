"""Install mmstream from this checkout into the running Python's environment, for development:
mmstream with its ``test`` and ``bench`` extras (``bench``: ``mmstream bench``'s strongest per-event peer,
a Quix Streams app), then every built-in plugin in editable mode, so that an edit
under ``plugins/`` takes effect without reinstalling (as an edit under ``mmstream/`` does).

    .venv/bin/python scripts/install.py [PIP OPTIONS]      # the README's first command runs it

The built-in plugins are the root ``pyproject.toml``'s ``NAME @ {root:uri}/plugins/...``
dependencies (a plugin added there is covered with no change here). Two pip runs, because one
cannot do it: pip refuses ``-e plugins/text`` beside mmstream's own dependency on
``mmstream-text @ file://.../plugins/text`` (ResolutionImpossible), and ``pip install -e .``
alone installs that dependency as a copy. So: ``pip install -e '.[test,bench]'`` (every dependency,
the plugins as copies), then ``pip install --no-deps -e plugins/<each>`` (the copies replaced by
editable installs). A later ``pip install -e .`` copies them again: run this script instead.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = "test,bench"
_DIRECT = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)\s*@\s*\{root:uri\}/(?P<path>\S+?)/?\s*$")


def builtin_plugins(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Path]:
    """Distribution name -> folder of every dependency given as a path in this checkout."""
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return {m["name"]: pyproject.parent / m["path"] for m in map(_DIRECT.match, dependencies) if m}


def main(pip_options: list[str]) -> int:
    pip = [sys.executable, "-m", "pip", "install", *pip_options]
    plugins = builtin_plugins()
    steps = [[*pip, "-e", f"{ROOT}[{EXTRAS}]"],
             [*pip, "--no-deps", *(arg for folder in plugins.values() for arg in ("-e", str(folder)))]]
    for step in steps:
        print("+", " ".join(step[1:]), file=sys.stderr, flush=True)
        done = subprocess.run(step)
        if done.returncode != 0:
            return done.returncode
    print(f"installed mmstream[{EXTRAS}] and, editable, {', '.join(plugins)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
