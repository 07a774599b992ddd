"""The fused model's text-task heads: complaint (is this post a complaint?) and
emotion (anger, joy, optimism, sadness), both small MLPs on features the text
plugin already computes (the general and the sentiment-tuned embedding of the
post's text; with text read from an image too, the mean of the views present).

* complaints: ``../shared/data/complaints`` (Preotiuc-Pietro et al., ACL 2019),
  no official split: a seeded stratified 70/15/15 split (:func:`complaint_split`);
  the decision threshold is chosen on its validation part for complaint F1;
* emotion: TweetEval emotion train, selected on val, reported on test.

Each head is an ensemble of ``members`` MLPs (different seeds) folded into one
MLP (hidden units side by side, output logits averaged), so the ONNX graph stays
one MatMul per layer.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mmstream.training.data import data_dir, macro_f1
from mmstream.training.head import Head, HeadSpec

EMOTION_LABELS = ("anger", "joy", "optimism", "sadness")
COMPLAINT_LABELS = ("no", "yes")
SPLIT_SHARES = (0.70, 0.15, 0.15)


@dataclass
class TaskHead:
    """One MLP over ``concat(mean general embedding, mean sentiment embedding)``."""

    name: str
    labels: list[str]
    params: dict[str, np.ndarray]
    threshold: float | None = None  # binary heads: P(yes) at or above which the label is true
    #: the sentiment head's hidden layer joins the input, times this scale (transfer from 47k sentiment tweets)
    hidden_scale: float | None = None
    metrics: dict = field(default_factory=dict)

    def logits(self, z: np.ndarray) -> np.ndarray:
        h = np.maximum(z @ self.params["W1"] + self.params["b1"], 0)
        return h @ self.params["W2"] + self.params["b2"]

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        x = self.logits(z)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


Hidden = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (general, sentiment) -> sentiment head's hidden layer


def task_input(general: np.ndarray, sentiment: np.ndarray, hidden: Hidden | None = None,
               scale: float | None = None) -> np.ndarray:
    """The heads' input: both views side by side (the graph builds the same from the text
    means), then the sentiment head's hidden layer on the same text times ``scale``."""
    parts = [general, sentiment]
    if hidden is not None and scale is not None:
        parts.append(hidden(general, sentiment) * scale)
    return np.concatenate(parts, axis=1).astype(np.float32)


def _hidden_scale(hidden: Hidden | None, general: np.ndarray, sentiment: np.ndarray) -> float | None:
    return None if hidden is None else float(1.0 / max(float(hidden(general, sentiment).max()), 1e-6))


def complaints() -> tuple[list[str], np.ndarray, list[str]]:
    """(texts, labels 0/1, domains) of the complaints data set, in file order."""
    path = data_dir() / "complaints" / "complaints-data.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.reader(fh) if len(r) >= 4]
    return [r[1].strip() or "." for r in rows], np.array([int(r[2]) for r in rows], np.int64), [r[3] for r in rows]


def complaint_split(y: np.ndarray, seed: int = 13) -> np.ndarray:
    """0 train / 1 val / 2 test per row: seeded, stratified by label, 70/15/15."""
    rng = np.random.default_rng(seed)
    part = np.empty(len(y), np.int64)
    for c in np.unique(y):
        idx = rng.permutation(np.where(y == c)[0])
        a, b = int(SPLIT_SHARES[0] * len(idx)), int((SPLIT_SHARES[0] + SPLIT_SHARES[1]) * len(idx))
        part[idx[:a]], part[idx[a:b]], part[idx[b:]] = 0, 1, 2
    return part


def tweeteval_emotion(split: str) -> tuple[list[str], np.ndarray]:
    base = data_dir() / "tweeteval" / "emotion"
    labels = (base / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    texts = (base / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")[: len(labels)]
    return [t.strip() or "." for t in texts], np.array([int(x) for x in labels], np.int64)


def binary_f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = np.sum((pred == 1) & (y == 1))
    return float(2 * tp / max(2 * tp + np.sum((pred == 1) & (y == 0)) + np.sum((pred == 0) & (y == 1)), 1))


def fit_ensemble(name: str, labels: list[str], z_tr: np.ndarray, y_tr: np.ndarray, z_va: np.ndarray, y_va: np.ndarray,
                 *, seed: int, members: int = 5, hidden: int = 128, epochs: int = 40, lr: float = 1e-3,
                 dropout: float = 0.5) -> TaskHead:
    """``members`` class-balanced MLPs, each kept at its best validation log-loss epoch, folded into one."""
    k = len(labels)
    spec = HeadSpec({"z": z_tr.shape[1] - 1}, hidden=hidden, n_classes=k)  # n_inputs = dim + 1 (no mask column here)
    counts = np.bincount(y_tr, minlength=k).astype(np.float32)
    heads = []
    for m in range(members):
        head = Head.init(spec, seed * 100 + m)

        def val_score(h: Head) -> float:
            return -float(np.mean(-np.log(h.predict_proba(z_va)[np.arange(len(y_va)), y_va] + 1e-9)))

        head.fit(lambda e: (z_tr, y_tr), val_score, epochs=epochs, lr=lr, dropout=dropout, batch=64,
                 class_weights=counts.sum() / (k * counts), seed=seed * 100 + m)
        heads.append(head.params)
    params = fold_heads(heads)
    return TaskHead(name, list(labels), {k2: v.astype(np.float32) for k2, v in params.items()})


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold 0..k-1 per row, every fold with the same share of each label (seeded)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), np.int64)
    for c in np.unique(y):
        idx = rng.permutation(np.where(y == c)[0])
        fold[idx] = np.arange(len(idx)) % k
    return fold


def fold_heads(heads: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several MLP heads' parameters as one head's: hidden units side by side, output logits averaged."""
    n = len(heads)
    return {"W1": np.concatenate([p["W1"] for p in heads], axis=1), "b1": np.concatenate([p["b1"] for p in heads]),
            "W2": np.concatenate([p["W2"] for p in heads], axis=0) / n, "b2": np.mean([p["b2"] for p in heads], axis=0)}


COMPLAINT_FOLDS = 5


def train_complaint_head(feats: Callable[[str, list[str]], tuple[np.ndarray, np.ndarray]], seed: int,
                         hidden: Hidden | None = None, folds: int = COMPLAINT_FOLDS, extra: bool = False,
                         praise: bool = False, news: bool = False) -> TaskHead:
    """``feats(name, texts)`` gives (general, sentiment) embeddings of ``texts`` (cached by ``name``);
    ``hidden``, when given, the sentiment head's hidden layer for such embeddings.

    Cross-validated bagging over the train and val parts together (85 % of the 3,449 tweets): one
    small ensemble per fold, each stopped early on the fold it did not see; the decision
    threshold is chosen on the out-of-fold probabilities of all those tweets (not on one
    517-tweet val part); the head is the folds' ensembles folded into one MLP. The test
    part stays untouched. Against the train-only head with its threshold on val, measured on
    the val part with both recipes trained on the train part alone: complaint F1 75.46 against 74.79.

    With ``extra``, each fold also fits on the OCR-style variants of its tweets and on hard
    negatives from TweetEval sentiment train with theirs (:mod:`mmstream.training.complaint_data`),
    split into the same folds; early stopping and the threshold stay on the complaints data's tweets.
    With ``praise``, generated praise addressed to brands joins the negatives, with its OCR-style variants
    (:func:`~mmstream.training.complaint_data.brand_praise`); with ``news``, generated news headlines about brands
    (:func:`~mmstream.training.complaint_data.brand_news`)."""
    from mmstream.training.complaint_data import brand_news, brand_praise, hard_negatives, ocr_variants

    texts, y, _ = complaints()
    g, s = feats("complaints", texts)
    part = complaint_split(y, seed)
    seen = np.where(part != 2)[0]
    scale = _hidden_scale(hidden, g[seen], s[seen])
    z = task_input(g, s, hidden, scale)
    fold = stratified_folds(y[seen], folds, seed)
    negatives = extra or praise or news
    if extra:
        z_ocr = task_input(*feats("complaints-ocr", ocr_variants(texts, seed)), hidden, scale)
    if negatives:
        neg_texts, neg_kinds = hard_negatives(seed) if extra else ([], [])
        if praise:
            generated = brand_praise(seed)
            neg_texts, neg_kinds = neg_texts + generated, neg_kinds + ["brand praise"] * len(generated)
        if news:
            headlines = brand_news(seed)
            neg_texts, neg_kinds = neg_texts + headlines, neg_kinds + ["brand news"] * len(headlines)
        name = "complaint-negatives" + ("" if extra else "-0") + ("+praise" if praise else "") + ("+news" if news else "")
        z_neg = np.concatenate([task_input(*feats(name, neg_texts), hidden, scale),
                                task_input(*feats(f"{name}-ocr", ocr_variants(neg_texts, seed + 1)), hidden, scale)])
        neg_fold = np.tile(np.random.default_rng(seed + 7).permutation(len(neg_texts)) % folds, 2)
    oof = np.zeros(len(seen), np.float32)
    oof_ocr = np.zeros(len(seen), np.float32)
    oof_neg = np.zeros(len(z_neg) if negatives else 0, np.float32)
    heads = []
    for j in range(folds):
        fit_rows, stop_rows = seen[fold != j], seen[fold == j]
        z_fit, y_fit = z[fit_rows], y[fit_rows]
        if extra:
            z_fit, y_fit = np.concatenate([z_fit, z_ocr[fit_rows]]), np.concatenate([y_fit, y[fit_rows]])
        if negatives:
            z_fit = np.concatenate([z_fit, z_neg[neg_fold != j]])
            y_fit = np.concatenate([y_fit, np.zeros(int((neg_fold != j).sum()), y.dtype)])
        head = fit_ensemble("complaint", list(COMPLAINT_LABELS), z_fit, y_fit, z[stop_rows], y[stop_rows],
                            seed=seed + j, members=2)
        oof[fold == j] = head.predict_proba(z[stop_rows])[:, 1]
        if extra:
            oof_ocr[fold == j] = head.predict_proba(z_ocr[stop_rows])[:, 1]
        if negatives:
            oof_neg[neg_fold == j] = head.predict_proba(z_neg[neg_fold == j])[:, 1]
        heads.append(head)
    head = TaskHead("complaint", list(COMPLAINT_LABELS), fold_heads([h.params for h in heads]), hidden_scale=scale)
    grid = np.round(np.arange(0.2, 0.81, 0.02), 2)
    head.threshold = float(max(grid, key=lambda t: (binary_f1(y[seen], (oof >= t).astype(int)), -abs(t - 0.5))))

    def scores(y_part: np.ndarray, pred: np.ndarray) -> dict:
        return {"complaint_f1": round(100 * binary_f1(y_part, pred), 2), "macro_f1": round(100 * macro_f1(y_part, pred, 2), 2),
                "accuracy": round(100 * float(np.mean(pred == y_part)), 2), "posts": int(len(y_part))}

    head.metrics["val"] = {**scores(y[seen], (oof >= head.threshold).astype(int)), "out_of_fold": True}
    test = part == 2
    head.metrics["test"] = scores(y[test], (head.predict_proba(z[test])[:, 1] >= head.threshold).astype(int))
    t = head.threshold
    if extra:
        head.metrics["val"]["ocr_style_complaint_recall"] = round(100 * float(np.mean(oof_ocr[y[seen] == 1] >= t)), 2)
        head.metrics["test"]["ocr_style"] = scores(y[test], (head.predict_proba(z_ocr[test])[:, 1] >= t).astype(int))
    if negatives:
        half = len(neg_kinds)
        head.metrics["val"]["hard_negatives_flagged"] = {
            kind: round(100 * float(np.mean(oof_neg[:half][np.array(neg_kinds) == kind] >= t)), 2) for kind in
            dict.fromkeys(neg_kinds)}
        hard = sum(not kind.startswith("brand ") for kind in neg_kinds)  # TweetEval's, not the generated ones
        head.metrics["extra_training"] = "; ".join(
            ([f"OCR-style variants of every tweet; {hard} hard negatives "
              "(TweetEval sentiment train: praise, news, questions, announcements) and theirs"] if extra else [])
            + ([f"{len(brand_praise(seed))} generated posts of praise addressed to brands and their OCR-style "
                "variants"] if praise else [])
            + ([f"{len(brand_news(seed))} generated news headlines about brands and their OCR-style variants"]
               if news else []))
    head.metrics["split"] = (f"seeded (seed {seed}) stratified 70/15/15 of {len(y)} tweets; trained on train+val, "
                             f"{folds}-fold cross-validated bagging")
    return head


def train_emotion_head(feats: Callable[[str, list[str]], tuple[np.ndarray, np.ndarray]], seed: int,
                       hidden: Hidden | None = None) -> TaskHead:
    data = {split: tweeteval_emotion(split) for split in ("train", "val", "test")}
    views = {split: feats(f"emotion-{split}", texts) for split, (texts, _) in data.items()}
    scale = _hidden_scale(hidden, *views["train"])
    z = {split: task_input(g, s, hidden, scale) for split, (g, s) in views.items()}
    head = fit_ensemble("emotion", list(EMOTION_LABELS), z["train"], data["train"][1], z["val"], data["val"][1],
                        seed=seed, members=8)
    head.hidden_scale = scale
    for split in ("val", "test"):
        y = data[split][1]
        pred = head.predict_proba(z[split]).argmax(1)
        head.metrics[split] = {"macro_f1": round(100 * macro_f1(y, pred, 4), 2),
                               "accuracy": round(100 * float(np.mean(pred == y)), 2), "posts": len(y)}
    return head
