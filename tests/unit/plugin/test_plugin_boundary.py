"""The plugin boundary, both ways (issue 26): core (mmstream/, outside docs and tests) names no built-in
plugin's modality, and a built-in plugin imports nothing of mmstream but ``mmstream.plugin``.

The names are collected from the built-in extractors themselves (their ``modalities`` and
``text_views``), so a modality a plugin adds later is covered at once. A string literal of core that
equals one fails, unless :data:`ALLOWED` says why that literal, in that file, is not a modality
(a SQL column type, the "text" lane, a post's JSON field ...), and how many times it appears there:
one more occurrence fails too. Literals inside f-strings and docstrings are text, not names."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from paths import REPO

pytestmark = pytest.mark.unit

#: the built-in modality plugins (plugins/<name>), as the plugin manager names them
BUILT_IN = ("text", "image", "audio", "video")

#: (file, literal): (occurrences, why the literal there is not a built-in plugin's modality)
ALLOWED: dict[tuple[str, str], tuple[int, str]] = {
    ("mmstream/plugin/extractors.py", "text"): (3, "Extractor.lane's cost class 'text' (LANES), not the modality"),
    ("mmstream/lanes/__init__.py", "text"): (3, "the text lane and worker role (MMSTREAM_LANES)"),
    ("mmstream/lanes/opening.py", "text"): (1, "the worker role 'text' (MMSTREAM_LANES)"),
    ("mmstream/lanes/observe.py", "text"): (1, "the lane label of the lane metrics"),
    ("mmstream/worker/app.py", "text"): (8, "the worker role and lane 'text' (MMSTREAM_LANES, lane metrics labels)"),
    ("mmstream/commands/cli.py", "text"): (1, "a choice of --lanes (the worker role)"),
    ("mmstream/settings.py", "text"): (1, "log_format's plain value (MMSTREAM_LOG_FORMAT=text)"),
    ("mmstream/observability/logs.py", "text"): (3, "the plain log format (MMSTREAM_LOG_FORMAT)"),
    ("mmstream/sinks/tables.py", "text"): (46, "the column type of the sink tables (SQL TEXT)"),
    ("mmstream/sinks/postgres.py", "text"): (1, "the column type of the sink tables (SQL TEXT)"),
    ("mmstream/sinks/sqlite.py", "text"): (1, "the column type of the sink tables (SQL TEXT)"),
    ("mmstream/training/data.py", "text"): (1, "a field of the TweetTopic data files' JSON lines"),
    ("mmstream/training/export_image.py", "images"): (4, "the exported encoder's ONNX input name (its config 'input')"),
    ("mmstream/analytics/engine/events.py", "text"): (2, "a field of the mention record (mentions schema)"),
    ("mmstream/bench/posts.py", "text"): (7, "a post's JSON field (posts schema) and the 'text' bench mix"),
    ("mmstream/bench/posts.py", "images"): (2, "a post's JSON field (posts schema) of the generated posts"),
    ("mmstream/bench/media_mix.py", "text"): (6, "the text worker role of the media mix, a post's JSON field"),
    ("mmstream/bench/perevent.py", "text"): (1, "a post's JSON field (posts schema), read by the per-event peer"),
    ("mmstream/bench/perevent.py", "images"): (1, "a post's JSON field (posts schema), read by the per-event peer"),
    ("mmstream/bench/report.py", "text"): (4, "the 'text' bench mix"),
    ("mmstream/bench/run.py", "text"): (2, "the 'text' bench mix"),
    ("mmstream/inference/fused.py", "text"): (1, "the plugin name old `mmstream train` wrote in config.json "
                                             "'encoders' for the inputs the built-in text plugin made (a model "
                                             "without 'text_inputs'): a fixed value of old files, whatever is installed"),
    ("mmstream/commands/evaluate.py", "text"): (1, "TEXT: the posts schema's field the eval's tweets (and the "
                                               "memes' captions) are posted in"),
    ("mmstream/commands/evaluate.py", "images"): (1, "IMAGES: the posts schema's field the eval's memes are posted "
                                                 "in (they run when a plugin reads it)"),
    ("mmstream/commands/demo.py", "text"): (1, "TEXT: the posts schema's field (schemas/posts.json) whose text a "
                                           "result line shows, read from the sample posts"),
    ("mmstream/web/live.py", "text"): (5, "the post's 'text' field (posts schema) the feed keeps, and the feed "
                                        "mention's 'text' field (dashboard JSON)"),
    ("mmstream/evaluation/media.py", "text"): (5, "the media eval's carrier rows ('text': the tweets as text, "
                                                  "the report's reference row) and TEXT, the posts schema's field"),
    ("mmstream/evaluation/media.py", "audio"): (3, "the media eval's carrier row 'audio' (voice notes: a report "
                                                   "row and the spoken set's file field), not a post key: the key "
                                                   "comes from Extractor.media_types"),
    ("mmstream/web/copies.py", "text"): (1, "the 'text' field of the feed's mentions (a campaign's template)"),
    ("mmstream/web/export.py", "text"): (2, "the 'text' column and field of the exported mentions"),
    ("mmstream/web/search.py", "text"): (1, "the 'text' field of the feed's mentions, searched"),
    ("mmstream/worker/malloc.py", "text"): (2, "the worker role 'text' (MMSTREAM_LANES) the mmap threshold is fixed for"),
    ("mmstream/web/snapshot.py", "text"): (2, "the 'text' field of the feed's mentions (web/live.py: the post's "
                                           "text) and of an alert's examples (dashboard JSON)"),
}

#: files that still name built-in modalities as modalities (not in ALLOWED's sense), each with whose
#: fix it is (issue 26): an entry fails once its file names none, so the list only shrinks
PENDING: dict[str, str] = {
}


def built_in_names() -> set[str]:
    """Every modality and text view the built-in plugins' extractors declare."""
    from mmstream.plugin.manager import call_hook, get_plugin_manager
    from mmstream.settings import Settings

    settings = Settings.load()
    names: set[str] = set()
    for plugin, extractor in call_hook(get_plugin_manager(settings), "register_extractors", settings=settings):
        if plugin in BUILT_IN:
            names |= set(extractor.modalities) | set(extractor.text_views)
    return names


def named_modalities(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, literal) of each string literal in ``source`` equal to one of ``names``, leaving out
    docstrings and the text parts of f-strings."""
    tree = ast.parse(source)
    prose: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            prose |= {id(v) for v in node.values}
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                prose.add(id(first.value))
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
                  and id(node) not in prose)


def core_imports(source: str) -> list[str]:
    """The modules of mmstream that ``source`` imports, other than ``mmstream.plugin`` itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        found += [m for m in modules if (m == "mmstream" or m.startswith("mmstream.")) and m != "mmstream.plugin"]
    return found


def boundary_problems(core: dict[str, str], names: set[str], allowed=ALLOWED, pending=PENDING) -> list[str]:
    """What breaks the rule in ``core`` ({path: source}): literals outside the allow-list, an allowed
    literal seen more (or fewer) times than listed, a pending file that no longer names any."""
    problems = []
    for path, source in sorted(core.items()):
        counts: dict[str, list[int]] = {}
        for line, literal in named_modalities(source, names):
            counts.setdefault(literal, []).append(line)
        if path in pending:
            if not counts:
                problems.append(f"{path} names no built-in modality any more: remove it from PENDING")
            continue
        for literal, lines in counts.items():
            want = allowed.get((path, literal), (0, ""))[0]
            if len(lines) != want:
                problems.append(f"{path}:{','.join(map(str, lines))} names the modality {literal!r} "
                                f"({len(lines)} times, {want} allowed): read it from the extractors' declarations")
    problems += [f"{path}: allowed {literal!r} {n} times but it is gone: drop the entry"
                 for (path, literal), (n, _) in allowed.items() if path in core
                 and not any(lit == literal for _, lit in named_modalities(core[path], names))]
    return problems


def core_sources() -> dict[str, str]:
    """mmstream/'s Python files, but ``mmstream.testing`` (the pytest fixtures: tests' side)."""
    return {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in sorted((REPO / "mmstream").rglob("*.py"))
            if p.name != "testing.py" or p.parent.name != "mmstream"}


def test_core_names_no_built_in_modality():
    names = built_in_names()
    assert {"text", "images", "image_text", "audio", "videos"} <= names  # the built-ins were found
    assert boundary_problems(core_sources(), names) == []


def test_built_in_plugins_import_nothing_of_mmstream_but_the_plugin_api():
    """Their code under plugins/ (their tests may use ``mmstream.testing``, the fixtures)."""
    bad, files = [], []
    for path in sorted((REPO / "plugins").rglob("*.py")):
        in_tests = "tests" in path.relative_to(REPO / "plugins").parts
        files.append(path)
        bad += [f"{path.relative_to(REPO)}: {m}" for m in core_imports(path.read_text(encoding="utf-8"))
                if not (in_tests and m == "mmstream.testing")]
    assert len(files) > 20 and bad == []


def test_the_checks_catch_a_modality_named_in_core_and_a_plugin_importing_core():
    names = {"text", "images", "image_text"}
    bad = 'def pick(extractors):\n    return extractors["text"], post.get("image_text")\n'
    found = boundary_problems({"mmstream/x.py": bad}, names, {}, {})
    assert len(found) == 2 and all(p.startswith("mmstream/x.py:2 names the modality") for p in found)
    assert "'text'" in found[0] + found[1] and "'image_text'" in found[0] + found[1]
    assert boundary_problems({"mmstream/x.py": 'LANE = "text"\n'}, names, {("mmstream/x.py", "text"): (1, "lane")}, {}) == []
    twice = boundary_problems({"mmstream/x.py": 'A = "text"\nB = "text"\n'}, names, {("mmstream/x.py", "text"): (1, "")}, {})
    assert len(twice) == 1 and "2 times, 1 allowed" in twice[0]
    assert named_modalities('"""text"""\nf"text{x}"\nX = "images"\n', names) == [(3, "images")]
    assert boundary_problems({"mmstream/y.py": "X = 1\n"}, names, {}, {"mmstream/y.py": "someone"}) == \
        ["mmstream/y.py names no built-in modality any more: remove it from PENDING"]
    assert core_imports("from mmstream.pipeline.post import check_unicode\nimport mmstream.settings\n"
                        "from mmstream.plugin import Extractor\nfrom . import lang\n") == \
        ["mmstream.pipeline.post", "mmstream.settings"]
