"""Out-of-fold category probabilities and the threshold rule (mmstream.training.topic_folds, calibrate): pure
logic on made-up features; the shipped model is held to them in tests/integration/test_calibration.py."""
from __future__ import annotations

import numpy as np

from mmstream.training import topic_folds as tf
from mmstream.training.calibrate import choose_topic_thresholds
from mmstream.training.card import refresh_calibration

LABELS = ["a", "b", "c"]


def _split(n: int, seed: int = 0) -> tf.Split:
    rng = np.random.default_rng(seed)
    eye = np.eye(n, dtype=np.float32)  # one feature per tweet: a head learns a tweet only from the tweet itself
    return tf.Split((rng.random((n, 3)) < 0.3).astype(np.float32), eye, eye.copy(), (rng.random(n) < 0.5).astype(np.float32))


def test_each_tweet_is_answered_by_heads_that_never_saw_it():
    train = _split(60)
    val = tf.Split(train.Y[:10], np.zeros((10, 60), np.float32), np.zeros((10, 60), np.float32), train.routed[:10])
    P = tf.out_of_fold(train, val, LABELS, folds=5)
    fold = tf.fold_of(60, 5)
    for k in range(5):
        held = P[(fold == k) & (train.routed == 0)]
        # its own feature was never in training: every held-out tweet of a route gets the heads' bias alone
        assert np.allclose(held, held[0], atol=1e-6)
    # in sample, the same heads tell the tweets' labels apart: out of fold they cannot
    inside = tf.blend(train, tf.refit(train, val, LABELS))
    assert np.corrcoef(inside[:, 0], train.Y[:, 0])[0, 1] > 0.9
    assert abs(np.corrcoef(P[:, 0], train.Y[:, 0])[0, 1]) < 0.5


def test_folds_are_even_shuffled_and_reproducible():
    fold = tf.fold_of(103, 10)
    assert sorted(np.bincount(fold)) == [10] * 7 + [11] * 3
    assert (fold == tf.fold_of(103, 10)).all() and not (fold == np.arange(103) % 10).all()


def test_the_blend_answers_with_the_head_of_each_tweets_route():
    split = _split(4)
    split.routed[:] = [0, 1, 0, 1]
    heads = tf.Heads(np.zeros((4, 3), np.float32), np.full(3, 2.0, np.float32), np.zeros((4, 3), np.float32),
                     np.full(3, -2.0, np.float32))
    P = tf.blend(split, heads)
    assert np.allclose(P[[0, 2]], 1 / (1 + np.exp(-2.0))) and np.allclose(P[[1, 3]], 1 / (1 + np.exp(2.0)))


def test_a_category_gets_the_threshold_of_best_f1_among_those_precise_enough():
    # label a: 40 of 100 tweets; 0.30 already clears 50 % precision (40 of 50 shown: the rule before took it),
    # 0.65 leaves the 10 negatives out (F1 1.0 against 0.89)
    y = np.zeros(100)
    y[:40] = 1
    p = np.where(y == 1, 0.72, 0.2)
    p[40:50] = 0.6  # 10 negatives scored between
    # label b: never precise enough (positives and negatives scored alike)
    Y = np.stack([y, np.tile([1, 0, 0, 0], 25)], 1)
    P = np.stack([p, np.full(100, 0.9)], 1)
    out = choose_topic_thresholds(["a", "b"], Y, P)
    assert out["a"] == 0.65  # above the 10 negatives: precision 1.0, recall 1.0
    assert out["b"] is None


def test_the_card_takes_the_new_calibration_and_keeps_what_follows(tmp_path):
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Model card: m@1-s1-aaaaaa\n\n## Calibration on validation (`x`)\n\n- old bullet\n- old categories\n\n"
                    "Measured on test splits: kept\n")
    config = {"name": "m", "version": "1-s1-bbbbbb", "topic_thresholds": {"a": 0.65, "b": None},
              "topic_calibration": {"held_out": 800, "out_of_fold": True}}
    refresh_calibration(card, config)
    text = card.read_text()
    assert text.startswith("# Model card: m@1-s1-bbbbbb\n") and "old bullet" not in text
    assert "800 held-out TweetTopicXL tweets" in text and "a 0.65" in text and "never shown: b" in text
    assert text.endswith("Measured on test splits: kept\n")
