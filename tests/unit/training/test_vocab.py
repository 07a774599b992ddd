"""Trimming the multilingual encoder's vocabulary (mmstream.training.vocab): on a
small real Unigram tokenizer and a real ONNX graph, and on the shipped model."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from mmstream.training import vocab
from paths import REPO


MODEL_DIR = REPO / "plugins" / "text" / "mmstream_text" / "model"


def tiny_spec() -> dict:
    """A Unigram tokenizer spec shaped like XLM-R's (specials first, Metaspace, <s> ... </s>)."""
    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581the", -2.0), ("\u2581cat", -3.0), ("\u2581ca", -4.0), ("t", -4.5), ("\u2581dog", -3.5),
               ("s", -3.2), ("\u2581", -2.5), ("c", -5.0), ("a", -5.0), ("d", -5.0), ("o", -5.0), ("g", -5.0),
               ("h", -5.0), ("e", -5.0), ("\u2581\u03b3\u03ac\u03c4\u03b1", -9.0), ("\u2581cats", -8.0),
               ("\u2581rare", -11.0), ("<mask>", 0.0)]
    special = [{"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                "special": True} for i, (p, _) in enumerate(pieces) if p.startswith("<")]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special, "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                      {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                                              "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": [list(p) for p in pieces], "byte_fallback": False},
    }


def tokenizer(spec: dict):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(json.dumps(spec))


def test_kept_pieces_are_the_used_the_single_the_script_and_the_likely():
    spec = tiny_spec()
    keep = vocab.kept_ids(spec, ["the cat", "the dogs"], top=1)
    pieces = [spec["model"]["vocab"][i][0] for i in keep]
    assert pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and pieces[-1] == "<mask>"
    assert {"\u2581the", "\u2581cat", "\u2581dog", "s"} <= set(pieces)  # used by the texts
    assert {"t", "c", "a", "\u2581"} <= set(pieces)  # one character
    assert "\u2581\u03b3\u03ac\u03c4\u03b1" in pieces  # Greek script
    assert "\u2581ca" not in pieces and "\u2581rare" not in pieces and "\u2581cats" not in pieces


def test_a_corpus_text_tokenises_as_before_and_others_still_tokenise():
    spec = tiny_spec()
    texts = ["the cat", "the dogs", "dog the cat"]
    keep = vocab.kept_ids(spec, texts, top=0)
    full, small = tokenizer(spec), tokenizer(vocab.trim_tokenizer(spec, keep))
    for text in texts:
        a, b = full.encode(text), small.encode(text)
        assert [keep[i] for i in b.ids] == a.ids and b.tokens == a.tokens
        assert b.ids[0] == 0 and b.ids[-1] == 2  # <s> ... </s> keep their ids
    other = small.encode("the cats")  # "\u2581cats" was not kept: the shorter pieces still read it
    assert other.tokens == ["<s>", "\u2581the", "\u2581cat", "s", "</s>"]
    assert 3 in small.encode("zzz").ids  # an unknown character is <unk> (id 3), as before
    assert small.token_to_id("<unk>") == 3 and small.token_to_id("<mask>") == len(keep) - 1


def test_the_embedding_keeps_exactly_the_kept_rows():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rows = np.arange(25 * 4, dtype=np.int8).reshape(25, 4)
    graph = helper.make_graph(
        [helper.make_node("Gather", [vocab.EMBEDDING, "input_ids"], ["out"], axis=0)], "g",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.INT8, ["n", 4])], [numpy_helper.from_array(rows, vocab.EMBEDDING)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    keep = [0, 1, 2, 3, 7, 20, 24]
    trimmed = vocab.trim_model(model, keep)
    session = ort.InferenceSession(trimmed.SerializeToString(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"input_ids": np.arange(len(keep), dtype=np.int64)})[0]
    np.testing.assert_array_equal(out, rows[keep])
    with pytest.raises(ValueError, match="beyond"):
        vocab.trim_model(onnx.load_from_string(trimmed.SerializeToString()), [0, 30])


def test_the_shipped_model_is_trimmed_consistently():
    import onnx

    config = json.loads((MODEL_DIR / vocab.CONFIG_FILE).read_text())
    with gzip.open(MODEL_DIR / vocab.TOKENIZER_FILE, "rt", encoding="utf-8") as fh:
        spec = json.load(fh)
    pieces = len(spec["model"]["vocab"])
    assert config["vocabulary"]["pieces"] == pieces < config["vocabulary"]["of"] == 250_002
    model = onnx.load(str(MODEL_DIR / vocab.MODEL_FILE), load_external_data=False)
    [embedding] = [i for i in model.graph.initializer if i.name == vocab.EMBEDDING]
    assert embedding.dims[0] == pieces
    assert max(a["id"] for a in spec["added_tokens"]) == pieces - 1
