"""Out-of-fold category probabilities: held-out answers for the 720 TweetTopicXL train tweets, so that each
category's threshold is chosen on 800 held-out tweets (train out of fold + validation), not on the 80 of
validation alone.

The shipped model's categories are two linear heads blended by the language route
(:mod:`mmstream.training.multilingual_graph`): the English head reads the post's general view (``text``), the
multilingual head its multilingual view (``text_multilingual``, made for non-English posts only), shifted so
that both heads' thresholds meet. :func:`refit` fits both as training does (:class:`~mmstream.training.head.TopicHead`
with :data:`ENGLISH_FIT` and :data:`MULTILINGUAL_FIT`, the settings :mod:`mmstream.training.train` and
:mod:`mmstream.training.multilingual` fit them with, each head's threshold chosen on validation); :func:`out_of_fold` refits them K times, each time without one fold of train,
and answers for that fold as the graph would (:func:`blend`). :func:`shipped_heads` reads the shipped weights
from ``model.onnx``: refit on the whole of train, the heads are the shipped ones (a test holds them to it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: each head's training settings (TopicHead.fit keywords): the trainers read them from here
ENGLISH_FIT: dict[str, float] = {}
MULTILINGUAL_FIT = {"l2": 1e-4, "lr": 1.0, "steps": 1500}
FOLDS = 10


@dataclass
class Split:
    """A TweetTopicXL split through the text reader: labels, both views and the multilingual route."""

    Y: np.ndarray  # [n, 19] multi-hot
    general: np.ndarray  # [n, 384] the ``text`` view
    multilingual: np.ndarray  # [n, 384] the ``text_multilingual`` view (computed for every tweet)
    routed: np.ndarray  # [n] 1.0 where the reader routes the tweet to the multilingual heads


@dataclass
class Heads:
    W_en: np.ndarray
    b_en: np.ndarray
    W_ml: np.ndarray
    b_ml: np.ndarray  # the multilingual head's bias with the shift to the English head's threshold
    threshold: float | None = None  # the English head's one threshold (config.json's ``topic_threshold``)

    def differs(self, other: "Heads", tolerance: float = 1e-3) -> float:
        """The largest weight difference to ``other``, when above ``tolerance`` (else 0)."""
        gap = max(float(np.abs(getattr(self, k) - getattr(other, k)).max()) for k in ("W_en", "b_en", "W_ml", "b_ml"))
        return gap if gap > tolerance else 0.0


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def blend(split: Split, heads: Heads) -> np.ndarray:
    """The graph's category probabilities for one-text posts: the English head's where the tweet is routed
    to English, the multilingual head's where it is routed to the multilingual heads."""
    en = _sigmoid(split.general @ heads.W_en + heads.b_en)
    ml = _sigmoid(split.multilingual @ heads.W_ml + heads.b_ml)
    w = split.routed[:, None]
    return (1 - w) * en + w * ml


def read_split(pipeline: Any, split: str, langs: tuple[str, ...]) -> Split:
    """Both views of a TweetTopicXL split (``langs`` pooled), as the running text reader makes them."""
    from mmstream.plugin.extractors import text_reader
    from mmstream.training.data import tweet_topics

    text = text_reader(pipeline.extractors)
    own = text.text_views[0]
    ys, texts = [], []
    for lang in langs:
        t, Y = tweet_topics(lang, split)
        texts += [x or "." for x in t]
        ys.append(Y)
    general, routed = [], []
    for start in range(0, len(texts), 64):
        for e in text.extract(own, texts[start:start + 64]):
            general.append(e.features[own])
            routed.append(1.0 if f"{own}_multilingual" in e.features else 0.0)
    multilingual = text.embed_texts(texts, "multilingual")
    return Split(np.concatenate(ys).astype(np.float32), np.asarray(general, np.float32),
                 np.asarray(multilingual, np.float32), np.asarray(routed, np.float32))


def shipped_heads(model_dir: Path) -> Heads | None:
    """The category heads inside a fused model's ``model.onnx`` (None: it has not both)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(Path(model_dir) / "model.onnx")).graph
    t = {i.name: numpy_helper.to_array(i) for i in graph.initializer if i.name in ("Wt", "bt", "mlt_W", "mlt_b")}
    if len(t) != 4:
        return None
    return Heads(t["Wt"], t["bt"], t["mlt_W"], t["mlt_b"])


def write_heads(model_dir: Path, heads: Heads) -> None:
    """Put ``heads`` in place of the category heads inside ``model.onnx`` (the rest of the graph untouched)."""
    import onnx
    from onnx import numpy_helper

    path = Path(model_dir) / "model.onnx"
    model = onnx.load(str(path))
    values = {"Wt": heads.W_en, "bt": heads.b_en, "mlt_W": heads.W_ml, "mlt_b": heads.b_ml}
    for init in model.graph.initializer:
        if init.name in values:
            init.CopyFrom(numpy_helper.from_array(np.asarray(values[init.name], np.float32), init.name))
    onnx.save(model, str(path))


def refit(train: Split, val: Split, labels: list[str], rows: np.ndarray | None = None) -> Heads:
    """Both heads fitted on ``train`` (its ``rows`` only, when given), each threshold chosen on ``val``, the
    multilingual bias shifted as the graph shifts it."""
    from mmstream.training.head import TopicHead

    r = slice(None) if rows is None else rows
    en = TopicHead.fit(train.general[r], train.Y[r], labels, X_val=val.general, Y_val=val.Y, **ENGLISH_FIT)
    ml = TopicHead.fit(train.multilingual[r], train.Y[r], labels, X_val=val.multilingual, Y_val=val.Y,
                       **MULTILINGUAL_FIT)
    shift = _logit(float(en.threshold)) - _logit(float(ml.threshold))
    return Heads(en.W, en.b, ml.W, (ml.b + shift).astype(np.float32), round(float(en.threshold), 2))


def fold_of(n: int, folds: int = FOLDS, seed: int = 13) -> np.ndarray:
    """A fold number per row, shuffled, folds as even as ``n`` allows."""
    return np.random.default_rng(seed).permutation(np.arange(n) % folds)


def out_of_fold(train: Split, val: Split, labels: list[str], folds: int = FOLDS) -> np.ndarray:
    """Each train tweet's category probabilities from heads refit without its fold."""
    fold = fold_of(len(train.Y), folds)
    P = np.zeros_like(train.Y)
    for k in range(folds):
        heads = refit(train, val, labels, rows=fold != k)
        held = fold == k
        part = Split(train.Y[held], train.general[held], train.multilingual[held], train.routed[held])
        P[held] = blend(part, heads)
    return P
