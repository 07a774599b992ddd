"""The ``onnx_threads`` setting reaches the ONNX Runtime sessions themselves (issue 26: it was read again from the
environment, so ``build_pipeline(Settings.load(onnx_threads=1))`` never reached them)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mmstream.inference.onnx import OnnxModel, onnx_threads, use_settings
from mmstream.settings import Settings



@pytest.fixture
def restored():
    yield
    use_settings(None)


def fused_model() -> OnnxModel:
    return OnnxModel(Path(Settings().model_dir) / "model.onnx")


def test_the_session_takes_its_threads_from_the_settings_the_pipeline_was_given(restored, monkeypatch):
    monkeypatch.delenv("MMSTREAM_ONNX_THREADS", raising=False)
    use_settings(Settings.load(onnx_threads=3))
    assert onnx_threads() == 3
    assert fused_model().session.get_session_options().intra_op_num_threads == 3


def test_explicit_settings_win_and_the_environment_is_the_fallback(restored, monkeypatch):
    monkeypatch.setenv("MMSTREAM_ONNX_THREADS", "2")
    use_settings(None)  # as before any pipeline was built
    assert onnx_threads() == 2
    use_settings(Settings.load(onnx_threads=3))
    assert onnx_threads(Settings.load(onnx_threads=1)) == 1
    assert onnx_threads() == 3

