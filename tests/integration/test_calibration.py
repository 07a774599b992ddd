"""The shipped fused model's category heads against the calibration that chose their thresholds
(mmstream.training.calibrate, topic_folds): refit on TweetTopicXL train as `mmstream train` fits them, they are
the heads in model.onnx, and the calibration's numpy blend of them is what the running pipeline answers. Both
must hold for the out-of-fold probabilities the thresholds were chosen on to be the model's own."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmstream.training import topic_folds as tf
from mmstream.training.calibrate import LANGS, topic_data
from tests.paths import REPO

MODEL = REPO / "mmstream/models/fused"


@pytest.fixture(scope="module")
def pipeline():
    from mmstream.pipeline.build import build_pipeline
    from mmstream.settings import Settings

    return build_pipeline(Settings.load(model_dir=str(MODEL)))


@pytest.fixture(scope="module")
def splits(pipeline):
    return {s: tf.read_split(pipeline, s, LANGS) for s in ("train", "validation")}


def test_the_shipped_category_heads_are_those_the_calibration_refits(pipeline, splits):
    shipped = tf.shipped_heads(MODEL)
    assert shipped is not None
    heads = tf.refit(splits["train"], splits["validation"], pipeline.model.topic_labels)
    assert heads.differs(shipped) == 0.0
    config = json.loads((MODEL / "config.json").read_text())
    assert config["topic_threshold"] == heads.threshold
    assert config["topic_calibration"]["held_out"] == len(splits["train"].Y) + len(splits["validation"].Y) == 800


def test_the_calibrations_blend_is_what_the_pipeline_answers(pipeline, splits):
    Y, P = topic_data(pipeline, "validation")
    val = splits["validation"]
    assert (Y == val.Y).all()
    assert 0 < val.routed.sum() < len(val.routed)  # both routes are exercised (en and es/gr/ja)
    assert np.abs(tf.blend(val, tf.shipped_heads(MODEL)) - P).max() < 1e-4
