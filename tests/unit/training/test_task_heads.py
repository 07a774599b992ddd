"""Pure logic of the task heads' training (mmstream.training.tasks): folds and folded ensembles."""
from __future__ import annotations

import numpy as np

from mmstream.training.tasks import TaskHead, fold_heads, stratified_folds


def test_stratified_folds_split_every_label_evenly_and_reproducibly():
    y = np.array([0] * 23 + [1] * 11)
    fold = stratified_folds(y, 5, seed=13)
    assert set(fold) == set(range(5))
    for c in (0, 1):
        counts = np.bincount(fold[y == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert np.array_equal(fold, stratified_folds(y, 5, seed=13))
    assert not np.array_equal(fold, stratified_folds(y, 5, seed=14))


def test_folded_heads_average_the_members_logits():
    rng = np.random.default_rng(0)
    heads = [TaskHead("t", ["no", "yes"], {"W1": rng.standard_normal((6, 4)).astype(np.float32),
                                           "b1": rng.standard_normal(4).astype(np.float32),
                                           "W2": rng.standard_normal((4, 2)).astype(np.float32),
                                           "b2": rng.standard_normal(2).astype(np.float32)}) for _ in range(3)]
    folded = TaskHead("t", ["no", "yes"], fold_heads([h.params for h in heads]))
    z = rng.standard_normal((9, 6)).astype(np.float32)
    assert folded.params["W1"].shape == (6, 12)
    np.testing.assert_allclose(folded.logits(z), np.mean([h.logits(z) for h in heads], axis=0), rtol=1e-5, atol=1e-5)
