"""The distillation teacher's pure parts: how members are named and how their answers combine."""
from __future__ import annotations

import numpy as np
import pytest

from mmstream.training.teacher import ensemble, parse_member



def test_the_ensemble_is_the_log_of_the_members_mean_probabilities():
    a = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32))
    b = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]], np.float32)  # logits, not normalised
    got = np.exp(ensemble([a, b]))
    pb = np.exp(b) / np.exp(b).sum(1, keepdims=True)
    assert np.allclose(got, (np.exp(a) + pb) / 2, atol=1e-6)
    assert np.allclose(got.sum(1), 1.0, atol=1e-6)
    assert ensemble([a]).argmax(1).tolist() == [0, 2]


def test_members_are_kind_path_and_layers(tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"x")
    assert parse_member(f"minilm:{ckpt}") == ("minilm", ckpt, 0)
    assert parse_member(f"e5:{ckpt}:6") == ("e5", ckpt, 6)
    with pytest.raises(SystemExit, match="minilm:PATH or e5:PATH"):
        parse_member(f"bert:{ckpt}")
    with pytest.raises(SystemExit, match="fine-tune it first"):
        parse_member(f"e5:{tmp_path / 'missing.pt'}")
