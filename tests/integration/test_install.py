"""The README's first command installs every built-in plugin editable (issue 32, item 13): an edit
under ``plugins/`` takes effect without reinstalling, as one under ``mmstream/`` does. Installed
as copies, a contributor's change to a plugin (or a deliberate break) was silently not under test.

The install part of the README's first command runs, verbatim, in a copy of the checkout (hard
links: nothing of this checkout is edited) with ``PIP_NO_DEPS=1`` (the third-party dependencies
are this environment's, added afterwards; pip fetches only the build backend)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from paths import REPO


ROOT = REPO
SKIP = {".git", ".venv", "__pycache__", ".cache", ".pytest_cache"}


def first_command(readme: str) -> str:
    section = readme.split("## Two commands", 1)[1]
    return re.search(r"```sh\n(.*?)\n```", section, re.S)[1]


def builtin_plugins(pyproject: Path) -> dict[str, str]:
    """What the root pyproject takes from this checkout: distribution -> folder."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    found = (re.match(r"^([A-Za-z0-9_.-]+)\s*@\s*\{root:uri\}/(\S+)$", d.strip()) for d in deps)
    return {m[1]: m[2].rstrip("/") for m in found if m}


def linked_copy(src: Path, dst: Path) -> None:
    for folder, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d not in SKIP]
        target = dst / Path(folder).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(folder) / name, target / name)
            except OSError:  # another file system
                shutil.copy2(Path(folder) / name, target / name)


def test_the_readme_installs_every_builtin_plugin_editable(tmp_path: Path):
    command = first_command((ROOT / "README.md").read_text())
    assert "\n" not in command and command.startswith("python3 -m venv .venv && ")
    install, demo = command.rsplit(" && ", 1)
    assert demo == ".venv/bin/mmstream demo"
    plugins = builtin_plugins(ROOT / "pyproject.toml")
    assert {"mmstream-text", "mmstream-image"} <= set(plugins)

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for part in ("README.md", "pyproject.toml", "mmstream", "plugins", "scripts"):
        if (ROOT / part).is_dir():
            linked_copy(ROOT / part, checkout / part)
        elif (ROOT / part).is_file():
            os.link(ROOT / part, checkout / part)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_NO_", "VIRTUAL_ENV", "PYTHON"))}
    # the venv made beforehand with the build backend in it (the README's `python3 -m venv .venv` keeps
    # what is there), so that pip can build with no dependency fetched: PIP_NO_DEPS would also strip
    # the isolated build environment's hatchling of its own dependencies
    subprocess.run(["python3", "-m", "venv", ".venv"], cwd=checkout, check=True, env=env, timeout=300)
    subprocess.run([".venv/bin/pip", "install", "-q", "hatchling>=1.25", "editables~=0.3"], cwd=checkout,
                   check=True, env=env, timeout=600)
    done = subprocess.run(["bash", "-c", install], cwd=checkout, capture_output=True, text=True, timeout=900,
                          # PIP_NO_BUILD_ISOLATION=0 turns isolation off (pip reads the variable inverted)
                          env={**env, "PIP_NO_DEPS": "1", "PIP_NO_BUILD_ISOLATION": "0",
                               "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    python = checkout / ".venv" / "bin" / "python"
    site = next((checkout / ".venv" / "lib").glob("python3*/site-packages"))

    report = subprocess.run([str(python), "-c", (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        d = m.distribution(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        out[name] = None\n"
        "        continue\n"
        "    out[name] = {'at': str(d._path), 'direct_url': json.loads(d.read_text('direct_url.json') or '{}')}\n"
        "print(json.dumps(out))\n"), *plugins], capture_output=True, text=True, timeout=60, check=True)
    installed = json.loads(report.stdout)
    for name, folder in plugins.items():
        info = installed[name]
        assert info is not None, f"{name} is not installed by the README's first command ({command})"
        assert info["at"].startswith(str(site)), info
        assert info["direct_url"].get("dir_info", {}).get("editable") is True, f"{name} is a copy, not editable: {info}"
        assert info["direct_url"]["url"] == (checkout / folder).as_uri(), info

    # an edit under plugins/ takes effect at once: each plugin's module, edited, imported by the venv
    # (the third-party dependencies from this environment, behind the venv's own site-packages)
    import numpy

    (site / "zz_dependencies.pth").write_text(str(Path(numpy.__file__).parent.parent) + "\n")
    modules = {}
    for name, folder in plugins.items():
        entry = tomllib.loads((checkout / folder / "pyproject.toml").read_text())["project"]["entry-points"]["mmstream"]
        module = next(iter(entry.values())).split(":")[0]
        init = checkout / folder / module / "__init__.py"
        text = init.read_text()
        init.unlink()  # the copy's link, not this checkout's file
        init.write_text(text + f"\nEDITED_IN_PLACE = {name!r}\n")
        modules[module] = name
    check = subprocess.run([str(python), "-c", (
        "import importlib, json, sys\n"
        "mods = json.loads(sys.argv[1])\n"
        "print(json.dumps({m: [importlib.import_module(m).EDITED_IN_PLACE, importlib.import_module(m).__file__]"
        " for m in mods}))\n"), json.dumps(modules)], capture_output=True, text=True, timeout=300,
        env={**env, "MMSTREAM_ONNX_THREADS": "1"})
    assert check.returncode == 0, check.stderr[-3000:]
    for module, (edited, path) in json.loads(check.stdout).items():
        assert edited == modules[module] and path.startswith(str(checkout / "plugins")), (module, path)


def test_ci_installs_as_the_readme_does():
    ci = (ROOT / ".ci" / "run").read_text()
    install = first_command((ROOT / "README.md").read_text()).rsplit(" && ", 1)[0]
    for step in install.split(" && "):
        assert re.search(r"^" + re.escape(step).replace(r"scripts/install\.py", r"scripts/install\.py( -q)?") + "$",
                         ci, re.M), f"{step!r} is not a line of .ci/run"
