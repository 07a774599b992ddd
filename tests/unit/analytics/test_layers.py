"""The analytics' layers (issue 26): engine/ is pure (no Kafka, Faust or web client, nothing of the other
layers), state/ builds on the engine only, and the pipeline side and serving never reach back down into
anything that imports them. Checked on the import statements (lazy ones too) and on a fresh interpreter."""
from __future__ import annotations

import ast
import subprocess
import sys

from paths import REPO

ANALYTICS = REPO / "mmstream" / "analytics"
#: what each layer may import from mmstream.analytics (besides itself)
ALLOWED = {"engine": set(), "state": {"engine"}, "serving": {"engine"},
           "pipeline": {"engine", "state", "serving"}}
CLIENTS = ("faust", "kafka", "aiokafka", "aiohttp", "mode", "onnxruntime")


def imports(layer: str) -> dict[str, set[str]]:
    """module -> what it imports (outside ``if TYPE_CHECKING``: annotations are no dependency)."""
    found = {}
    for path in (ANALYTICS / layer).glob("*.py"):
        names: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        found[path.name] = names
    return found


def test_each_layer_imports_only_the_layers_below_it():
    wrong = {}
    for layer, allowed in ALLOWED.items():
        for module, names in imports(layer).items():
            layers = {n.split(".")[2] for n in names if n.startswith("mmstream.analytics.") and n.count(".") >= 2}
            bad = layers - allowed - {layer}
            if bad:
                wrong[f"{layer}/{module}"] = sorted(bad)
    assert wrong == {}, f"analytics modules importing a layer above them: {wrong}"


def test_the_engine_and_state_need_no_kafka_faust_or_web_client():
    for layer in ("engine", "state"):
        for module, names in imports(layer).items():
            assert not {n for n in names if n.split(".")[0] in CLIENTS}, f"{layer}/{module}"
    code = ("import sys, pkgutil, importlib, mmstream.analytics.engine as e, mmstream.analytics.state as s\n"
            "for p in (e, s):\n"
            "    for m in pkgutil.iter_modules(p.__path__): importlib.import_module(p.__name__ + '.' + m.name)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({CLIENTS!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout
