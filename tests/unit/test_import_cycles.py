"""No import cycles in mmstream/: every import statement, at module level or inside a
function (lazy imports count: they are dependencies too), outside ``if TYPE_CHECKING``."""
from __future__ import annotations

import ast
from pathlib import Path

from paths import REPO


ROOT = REPO / "mmstream"


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                deps |= {r for a in node.names if (r := resolve(a.name))}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps |= {r for a in node.names if (r := resolve(f"{node.module}.{a.name}"))}
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walk_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph(modules())
    assert "mmstream.plugin.stages" in graph["mmstream.pipeline.batch"]  # the walk sees real imports


HOW = ("a function-level import is a dependency too; move what both sides need into a module of its own, "
       "or hand it in as an argument")


def test_no_import_cycles_in_mmstream():
    """Everything but the offline training code (below)."""
    found = [c for c in cycles(import_graph(modules())) if not all(m.startswith("mmstream.training.") for m in c)]
    assert found == [], f"import cycles among {found}: {HOW}"


def test_no_import_cycles_in_the_training_code():
    found = [c for c in cycles(import_graph(modules())) if all(m.startswith("mmstream.training.") for m in c)]
    assert found == [], f"import cycles among {found}: {HOW}"


def test_the_pipeline_does_not_import_analytics():
    graph = import_graph(modules())
    assert "mmstream.pipeline.batch" in graph
    assert not {d for m, deps in graph.items() if m.startswith("mmstream.pipeline.") for d in deps
                if d.startswith("mmstream.analytics")}
