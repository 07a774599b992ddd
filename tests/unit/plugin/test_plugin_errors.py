"""A plugin's bugs are easy to debug (issue 32, item 8): the stage says where (validate or extract),
the dead letter carries a bounded traceback without the host's paths, and a hook implemented with a
wrong argument name is one sentence naming the hook and the argument."""
from __future__ import annotations

import json
import time
from typing import Any, Sequence

import pytest

from mmstream.errors import PluginError
from mmstream.plugin import Extraction, Extractor, hookimpl



def _deep(n: int) -> None:
    if n == 0:
        raise KeyError("frame")
    _deep(n - 1)


class Buggy(Extractor):
    name = "buggy"
    modalities = ("buggy",)

    def validate(self, modality: str, value: Any) -> Any:
        if value == "validate":
            return value["no such key"]  # TypeError: a bug, not the post's fault
        return value

    def extract(self, modality: str, values: Sequence[Any]) -> list[Extraction | Exception]:
        if "deep" in values:
            _deep(30)
        return [Extraction(report={"ok": True}) for _ in values]


class BuggyPlugin:
    @hookimpl
    def register_extractors(self, settings):  # noqa: ARG002
        return [Buggy()]


@pytest.fixture(scope="module")
def pipeline():
    from mmstream.pipeline.build import build_pipeline
    from mmstream.settings import Settings

    return build_pipeline(Settings.load(), plugins=[BuggyPlugin()])  # its own: with the buggy test plugin


def dead_letter(pipeline, value: str) -> dict:
    raw = json.dumps({"id": "p", "created_at": int(time.time()), "text": "hello", "buggy": value}).encode()
    [outcome] = pipeline.process([(raw, None)])
    assert outcome.kind == "dead_letter", outcome.record
    return outcome.record


def test_a_bug_in_validate_is_staged_validate_with_its_traceback(pipeline):
    from mmstream.schemas import validate

    record = dead_letter(pipeline, "validate")
    assert record["reason"] == "plugin_error" and record["stage"] == "validate:buggy", record
    trace = record["traceback"]
    assert "test_plugin_errors.py:" in trace and "in validate" in trace and trace.endswith("TypeError")
    validate("dead-letter", record)


def test_a_bug_in_extract_carries_a_bounded_traceback_without_host_paths(pipeline):
    from mmstream.schemas import validate

    record = dead_letter(pipeline, "deep")
    assert record["stage"] == "extract:buggy" and "KeyError" in record["detail"]
    trace = record["traceback"]
    lines = trace.splitlines()
    assert len(lines) == 9 and lines[-1] == "KeyError" and all("in _deep" in line for line in lines[:-1])
    assert len(trace) <= 2000 and "/work" not in trace and not any(line.startswith("/") for line in lines)
    assert all(line.startswith("plugin/test_plugin_errors.py:") for line in lines[:-1]), lines  # folder and name
    validate("dead-letter", record)


def test_a_hook_with_a_wrong_argument_name_is_one_sentence_naming_it():
    from mmstream.plugin.manager import get_plugin_manager
    from mmstream.settings import Settings

    class Typo:
        @hookimpl
        def register_extractors(self, setings):  # noqa: ARG002 - the typo under test
            return []

    with pytest.raises(PluginError) as caught:
        get_plugin_manager(Settings.load(), [Typo()])
    message = str(caught.value)
    assert "\n" not in message and "\\n" not in message, message
    assert "register_extractors(setings)" in message and "takes (settings)" in message and "'setings'" in message
