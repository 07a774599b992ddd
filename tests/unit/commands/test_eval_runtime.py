"""`mmstream eval` names the numeric packages its figures came from (the same model answers differently in the
second decimal from one onnxruntime release to the next)."""
import platform

import numpy
import onnxruntime

from mmstream.commands import evaluate


def test_runtime_versions_are_the_installed_ones():
    found = evaluate.runtime_versions()
    assert found["python"] == platform.python_version()
    assert found["onnxruntime"] == onnxruntime.__version__
    assert found["numpy"] == numpy.__version__
    assert set(evaluate.RUNTIME_PACKAGES) <= found.keys()


def test_a_package_not_installed_is_named_absent(monkeypatch):
    monkeypatch.setattr(evaluate, "RUNTIME_PACKAGES", ("onnxruntime", "no-such-package-mmstream"))
    found = evaluate.runtime_versions()
    assert found["no-such-package-mmstream"] == "absent"
    assert found["onnxruntime"] == onnxruntime.__version__


def test_the_table_shows_the_runtime_line():
    report = {"model": "m@v", "runtime": {"python": "3.11.7", "onnxruntime": "1.32.0"},
              "sentiment_test": {"macro_recall": 71.0, "accuracy": 70.0, "macro_f1": 69.0, "posts": 10,
                                 "posts_per_s": 100.0},
              "text_model_only": {"posts_per_s": 90.0, "ms_per_post": 11.1}}
    table = evaluate.format_table(report)
    assert "runtime" in table.splitlines()[1] and "onnxruntime 1.32.0" in table
