"""The media text inputs of the fused model (issue 27): which features the trainer fills from the
extractors' declarations, the views' shares, and the graph's text means over every text input."""
from __future__ import annotations

import numpy as np
import pytest

from mmstream.plugin.extractors import Extractor
from mmstream.training.extractors import FeatureNames
from mmstream.training.head import Head, HeadSpec, TopicHead, assemble
from mmstream.training.tasks import TaskHead
from mmstream.training.train import VIEW_SHARES, view_shares


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


def test_view_shares_sum_to_one_and_without_media_are_the_old_ones():
    assert view_shares(0) == VIEW_SHARES
    for k in (1, 2, 3):
        shares = view_shares(k)
        assert len(shares) == 4 + k and sum(shares) == pytest.approx(1.0, abs=1e-3)


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
