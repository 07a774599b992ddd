"""The media text inputs of the fused model (issue 27): which features the trainer fills from the
extractors' declarations, how their inputs join a trained head, and the graph's text means over every text input."""
from __future__ import annotations

import numpy as np
import pytest

from mmstream.plugin.extractors import Extractor
from mmstream.training.extractors import FeatureNames
from mmstream.training.head import Head, HeadSpec, TopicHead, assemble
from mmstream.training.tasks import TaskHead
from mmstream.training.train import widen


class Reader(Extractor):
    name = "reader"
    modalities = ("post",)
    text_views = ("post",)
    reads_text = True
    dims = {"post": 4, "shown": 4, "post_sentiment": 4, "shown_sentiment": 4, "heard": 4, "heard_sentiment": 4}

    def model_files(self):
        return {"post": "g.onnx", "post_sentiment": "s.onnx"}


def test_the_readers_further_text_bases_are_media_inputs():
    names = FeatureNames.of({"post": Reader()})
    assert (names.own, names.derived, names.media) == ("post", "shown", ("heard",))
    assert names.texts == ("post", "shown", "heard")
    assert set(names.built_in) == set(Reader.dims)
    assert names.multilingual == ("post_multilingual", "shown_multilingual", "heard_multilingual")


def test_the_media_inputs_join_as_copies_of_the_derived_text_and_only_they_train():
    base = HeadSpec({"post": 3, "shown": 3, "image": 2}, hidden=6)
    spec = HeadSpec({"post": 3, "shown": 3, "image": 2, "heard": 3}, hidden=6)
    head = Head.init(base, 0)
    wide, trainable = widen(head, spec, {"heard": "shown"})
    rng = np.random.default_rng(2)
    x = {m: rng.standard_normal((5, d)).astype(np.float32) for m, d in spec.modalities.items()}
    on, off = np.ones(5, np.float32), np.zeros(5, np.float32)
    # a post without the new input: the same answers as before
    masks = {"post": on, "shown": on, "image": on}
    np.testing.assert_allclose(wide.logits(assemble(spec, x, {**masks, "heard": off}, 5)),
                               head.logits(assemble(base, x, masks, 5)), rtol=1e-6)
    # the heard text alone reads as the same text shown (the derived input) did
    np.testing.assert_allclose(wide.logits(assemble(spec, {**x, "heard": x["shown"]}, {"heard": on}, 5)),
                               head.logits(assemble(base, x, {"shown": on}, 5)), rtol=1e-6)
    # training moves the new rows only
    z = assemble(spec, x, {"post": on, "heard": on}, 5)
    y = np.array([0, 1, 2, 1, 0])
    before = {k: v.copy() for k, v in wide.params.items()}
    scores = iter(range(10))  # each epoch scores higher than the warm start: the last is kept
    wide.fit(lambda e: (z, y), lambda h: next(scores), epochs=2, batch=5, dropout=0.0, trainable=trainable)
    changed = np.flatnonzero(np.any(wide.params["W1"] != before["W1"], axis=1))
    assert len(changed) and set(changed) <= set(range(8, 11)) | {14}  # "heard"'s three rows and its mask's
    for k in ("b1", "W2", "b2"):
        np.testing.assert_array_equal(wide.params[k], before[k])


def test_the_graph_reads_the_mean_of_every_text_input_present(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    texts = ("post", "shown", "heard")
    mods = {name: 3 for b in texts for name in (b, f"{b}_sentiment")}
    spec = HeadSpec(mods, hidden=5)
    head = Head.init(spec, 0)
    rng = np.random.default_rng(1)
    topics = TopicHead(["a", "b"], rng.standard_normal((3, 2)).astype(np.float32), np.zeros(2, np.float32))
    task = TaskHead("complaint", ["no", "yes"], {"W1": rng.standard_normal((6, 4)).astype(np.float32),
                                                 "b1": np.zeros(4, np.float32),
                                                 "W2": rng.standard_normal((4, 2)).astype(np.float32),
                                                 "b2": np.zeros(2, np.float32)}, threshold=0.5)
    head.to_onnx(tmp_path / "m.onnx", topics, [task], texts=texts)
    x = {m: rng.standard_normal((1, 3)).astype(np.float32) for m in mods}
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    for present in (("heard",), ("post", "heard"), ("post", "shown", "heard")):
        feeds = {**x, **{f"{m}_mask": np.array([[1.0 if m.split("_")[0] in present else 0.0]], np.float32)
                         for m in mods}}
        out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        general = np.mean([x[b] for b in present], axis=0)
        sentiment = np.mean([x[f"{b}_sentiment"] for b in present], axis=0)
        np.testing.assert_allclose(out["topics"], topics.predict_proba(general), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out["complaint"], task.predict_proba(np.concatenate([general, sentiment], 1)),
                                   rtol=1e-4, atol=1e-5)
        masks = {m: feeds[f"{m}_mask"][:, 0] for m in mods}
        np.testing.assert_allclose(out["sentiment"], head.predict_proba(assemble(spec, x, masks, 1)), rtol=1e-4,
                                   atol=1e-5)


def test_a_trained_models_heads_read_back_from_its_graph_as_written(tmp_path):
    """``mmstream train --from DIR`` keeps the heads of DIR: read back from its graph, they give its answers."""
    import json

    ort = pytest.importorskip("onnxruntime")
    from mmstream.training.reuse import fused_from_model

    texts = ("post", "shown")
    mods = {name: 3 for b in texts for name in (b, f"{b}_sentiment")}
    spec = HeadSpec({**mods, "image": 2}, hidden=5)
    head = Head.init(spec, 0)
    rng = np.random.default_rng(3)
    topics = TopicHead(["a", "b"], rng.standard_normal((3, 2)).astype(np.float32), np.zeros(2, np.float32), 0.35)
    task = TaskHead("complaint", ["no", "yes"], {"W1": rng.standard_normal((11, 4)).astype(np.float32),
                                                 "b1": np.zeros(4, np.float32),
                                                 "W2": rng.standard_normal((4, 2)).astype(np.float32),
                                                 "b2": np.zeros(2, np.float32)}, threshold=0.4, hidden_scale=0.5)
    head.to_onnx(tmp_path / "model.onnx", topics, [task], texts=texts)
    (tmp_path / "config.json").write_text(json.dumps({
        "modalities": {**mods, "image": 2, "post_multilingual": 3}, "labels": ["negative", "neutral", "positive"],
        "topic_labels": ["a", "b"], "topic_threshold": 0.35, "tasks": {"complaint": {"labels": ["no", "yes"],
                                                                                      "threshold": 0.4}}}))
    kept = fused_from_model(tmp_path, ("post_multilingual",))
    assert list(kept.head.spec.modalities) == list(spec.modalities) and kept.multilingual is None
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(kept.head.params[k], head.params[k])
    (tmp_path / "again").mkdir()
    kept.head.to_onnx(tmp_path / "again" / "model.onnx", kept.topics, kept.tasks, texts=texts)
    feeds = {**{m: rng.standard_normal((4, d)).astype(np.float32) for m, d in spec.modalities.items()},
             **{f"{m}_mask": np.ones((4, 1), np.float32) for m in spec.modalities}}
    one, two = (ort.InferenceSession(str(p)) for p in (tmp_path / "model.onnx", tmp_path / "again" / "model.onnx"))
    for a, b in zip(one.run(None, feeds), two.run(None, feeds)):
        np.testing.assert_array_equal(a, b)
    assert (kept.topics.threshold, kept.tasks[0].threshold, kept.tasks[0].hidden_scale) == (0.35, 0.4, 0.5)
