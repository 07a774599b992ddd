"""Every hookspec is documented in docs/plugins.md with its exact signature
(datasette's test_plugin_hooks_are_documented, made to compare signatures)."""
from __future__ import annotations

import ast
import inspect
import re


from mmstream.plugin import hookspecs
from paths import REPO


DOCS = REPO / "docs" / "plugins.md"


def hookspec_signatures() -> dict[str, str]:
    """Each hookspec's signature as ``inspect`` sees it, quotes dropped (the module
    uses ``from __future__ import annotations``, so annotations are their source text)."""
    specs = {}
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if getattr(fn, "mmstream_spec", None) is None:
            continue
        sig = inspect.signature(fn)
        params = ", ".join(f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
                           for p in sig.parameters.values())
        ret = "" if sig.return_annotation is inspect.Signature.empty else f" -> {sig.return_annotation}"
        specs[name] = _normal(f"({params}){ret}")
    return specs


def documented_signatures(text: str) -> dict[str, str]:
    """``### name`` sections under ``## Hooks``, each with a ```python block whose first
    ``def name(...) -> ...`` line is the documented signature."""
    hooks = text.split("\n## Hooks", 1)[1] if "\n## Hooks" in text else ""
    found = {}
    for section in re.split(r"\n### ", hooks)[1:]:
        title = section.split("\n", 1)[0].strip()
        match = re.search(r"```python\n(def [^\n]+)", section)
        if match is None:
            found[title] = ""
            continue
        tree = ast.parse(match.group(1).rstrip(":") + ": ...")
        fn = tree.body[0]
        assert isinstance(fn, ast.FunctionDef)
        if fn.name != title:
            found[title] = f"<the block defines {fn.name}>"
            continue
        params = ", ".join(f"{a.arg}: {ast.unparse(a.annotation)}" if a.annotation else a.arg for a in fn.args.args)
        ret = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
        found[title] = _normal(f"({params}){ret}")
    return found


def _normal(sig: str) -> str:
    return re.sub(r"\s+", " ", sig.replace('"', "").replace("'", "")).strip()


def mismatches(specs: dict[str, str], documented: dict[str, str]) -> list[str]:
    problems = [f"{name}: not documented in docs/plugins.md" for name in specs if name not in documented]
    problems += [f"{name}: documented as {documented[name]!r}, the hookspec is {specs[name]!r}"
                 for name in specs if name in documented and documented[name] != specs[name]]
    problems += [f"{name}: documented, but there is no such hookspec" for name in documented if name not in specs]
    return problems


def test_every_hookspec_is_documented_with_its_exact_signature():
    specs = hookspec_signatures()
    assert "register_extractors" in specs and "register_enrichers" in specs
    assert mismatches(specs, documented_signatures(DOCS.read_text(encoding="utf-8"))) == []


def test_the_check_catches_a_missing_section_and_a_changed_signature():
    specs = hookspec_signatures()
    text = DOCS.read_text(encoding="utf-8")
    without = re.sub(r"\n### register_sinks\n.*?(?=\n### )", "\n", text, flags=re.S)
    assert mismatches(specs, documented_signatures(without)) == ["register_sinks: not documented in docs/plugins.md"]
    changed = text.replace("def register_enrichers(settings: Settings, model: FusedModel, context: WorkerContext)",
                           "def register_enrichers(settings: Settings, model: FusedModel)")
    assert [p.split(":")[0] for p in mismatches(specs, documented_signatures(changed))] == ["register_enrichers"]
    assert "docs/plugins.md" in (hookspecs.__doc__ or "")


def test_plugins_import_mmstream_only_through_the_public_api():
    """Plugins (the built-in image plugin, the example, the text plugin's entry module) need
    nothing from mmstream beyond ``mmstream.plugin`` (and ``mmstream.testing`` in tests)."""
    root = DOCS.parents[1] / "plugins"
    files = [*(root / "image" / "mmstream_image").glob("*.py"), *(root / "examples").rglob("*.py"),
             root / "text" / "mmstream_text" / "__init__.py"]
    assert len(files) > 8
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            bad += [f"{path.relative_to(root)}: {n}" for n in names
                    if (n == "mmstream" or n.startswith("mmstream.")) and n not in ("mmstream.plugin", "mmstream.testing")]
    assert bad == []


def test_every_extractor_attribute_is_documented_with_its_default():
    """Each class attribute of ``Extractor`` (``lane``, ``timeout`` ...) has a row in docs/plugins.md's
    "Extractor attributes" table, with its default as the code has it."""
    from mmstream.plugin import Extractor

    text = DOCS.read_text(encoding="utf-8").split("**Extractor attributes.**", 1)[1].split("\n\n", 2)[1]
    rows = dict(re.findall(r"^\| `(\w+)` \| `?([^|`]*)`? \|", text, re.M))
    attrs = {n: v for n, v in vars(Extractor).items() if not n.startswith("_") and not callable(v)}
    assert set(attrs) == set(rows)
    assert all(rows[n] == (repr(v).replace("'", '"')) for n, v in attrs.items()), rows
