"""TweetEval sentiment from a fine-tuned view's own linear head, from fused models, and from both (issue 29:
how far the English path gets toward the 72 bar, and what each route would cost).

Reads, on TweetEval val and test:

* ``--state``: a state of ``python -m mmstream.training.finetune_text`` (its ``head.weight``, ``head.bias`` and
  ``scale``: the classifier the view was fine-tuned with) over the embeddings of ``--view-dir`` (a text model
  folder, as ``export_text --out`` writes it);
* each ``--fused DIR``: a fused model over the shipped text plugin's views, and each ``--fused-over-view DIR``
  one trained over ``--view-dir``'s (``MMSTREAM_PLUGIN_TEXT_MODEL_DIR``);
* each fused model's log-probabilities plus ``beta`` times the head's (``beta`` on a grid), with and without
  per-class decision offsets; the row whose val score is best is the one to quote, with its test score and a
  paired bootstrap interval against the head alone.

Embeddings go through the trainer's feature cache (``.cache/features``), so a second run is quick. Needs torch
(``pip install -e '.[train]'``) to read the state.

    python benchmarks/sentiment_heads.py --state STATE.pt --view-dir DIR --fused mmstream/models/fused
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

BETAS = (0.25, 0.5, 1.0, 2.0, 3.0)
OFFSETS = np.round(np.arange(-0.8, 0.81, 0.05), 2)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(1, keepdims=True)
    return x - np.log(np.exp(x).sum(1, keepdims=True))


def recall(y: np.ndarray, scores: np.ndarray) -> float:
    from mmstream.training.data import macro_recall

    return round(100 * macro_recall(y, scores.argmax(1)), 2)


def best_offsets(y: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    """(val macro-recall, negative offset, positive offset): the smallest offsets among the best."""
    score, _, neg, pos = max((recall(y, scores + [a, 0, b]), -abs(a) - abs(b), a, b) for a in OFFSETS for b in OFFSETS)
    return score, float(neg), float(pos)


def bootstrap(y: np.ndarray, a: np.ndarray, b: np.ndarray | None = None, rounds: int = 1000) -> tuple[float, float]:
    """90 % interval of macro-recall(a) - macro-recall(b) (of macro-recall(a) without ``b``), tweets resampled
    in pairs."""
    from mmstream.training.data import macro_recall

    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(rounds):
        i = rng.integers(0, len(y), len(y))
        diffs.append(macro_recall(y[i], a[i]) - (0.0 if b is None else macro_recall(y[i], b[i])))
    lo, hi = np.percentile(diffs, [5, 95])
    return round(100 * lo, 2), round(100 * hi, 2)


def embeddings(extractor, split: str) -> dict[str, np.ndarray]:
    from mmstream.training.features import file_digest
    from mmstream.training.inputs import split_features

    files = extractor.model_files()
    digests = {"general": file_digest(files["text"]), "sentiment": file_digest(files["text_sentiment"])}
    return split_features(extractor, digests, split)[0]


def fused_logits(model_dir: Path, views: dict[str, np.ndarray]) -> np.ndarray:
    """The fused graph's sentiment for text-only posts, as log-probabilities."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    n = len(views["general"])
    feeds = {i.name: np.zeros((n, i.shape[1]), np.float32) for i in session.get_inputs()}
    for name, view in (("text", "general"), ("text_sentiment", "sentiment")):
        feeds[name], feeds[f"{name}_mask"] = views[view].astype(np.float32), np.ones((n, 1), np.float32)
    return np.log(session.run(["sentiment"], feeds)[0] + 1e-9)


def main(argv: list[str] | None = None) -> int:
    import torch

    from mmstream.settings import Settings
    from mmstream.plugin.extractors import text_reader
    from mmstream.training.data import tweeteval_sentiment
    from mmstream.training.inputs import loaded_extractors

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="a finetune_text state (state_*.pt)")
    parser.add_argument("--view-dir", type=Path, required=True, help="the text model folder exported from that state")
    parser.add_argument("--fused", type=Path, action="append", default=[],
                        help="a fused model folder trained over the shipped text views (repeat)")
    parser.add_argument("--fused-over-view", type=Path, action="append", default=[],
                        help="a fused model folder trained over --view-dir's views (repeat)")
    args = parser.parse_args(argv)

    state = torch.load(args.state, map_location="cpu")
    W, b, scale = state["head.weight"].numpy(), state["head.bias"].numpy(), float(state["scale"])
    shipped = text_reader(loaded_extractors(Settings.load()))
    view = type(shipped)(Settings.load(), model_dir=args.view_dir)
    y = {s: tweeteval_sentiment(s)[1] for s in ("val", "test")}
    feats = {(who, s): embeddings(ex, s) for who, ex in (("view", view), ("shipped", shipped)) for s in y}
    head = {s: log_softmax(feats["view", s]["sentiment"] * scale @ W.T + b) for s in y}
    lo, hi = bootstrap(y["test"], head["test"].argmax(1))
    print(f"head alone: val {recall(y['val'], head['val'])} test {recall(y['test'], head['test'])} "
          f"(90 % interval [{lo}, {hi}])")
    for model, over in [(m, "shipped") for m in args.fused] + [(m, "view") for m in args.fused_over_view]:
        fused = {s: fused_logits(model, feats[over, s]) for s in y}
        print(f"\n{model} (over the {over} view): val {recall(y['val'], fused['val'])} "
              f"test {recall(y['test'], fused['test'])}")
        print("| beta | val | test | offsets (val) | val | test |\n|---|---|---|---|---|---|")
        chosen = None
        for beta in BETAS:
            both = {s: fused[s] + beta * head[s] for s in y}
            val, neg, pos = best_offsets(y["val"], both["val"])
            test = recall(y["test"], both["test"] + [neg, 0, pos])
            print(f"| {beta} | {recall(y['val'], both['val'])} | {recall(y['test'], both['test'])} | "
                  f"{neg:+.2f} / {pos:+.2f} | {val} | {test} |")
            if chosen is None or val > chosen[0]:
                chosen = (val, beta, (both["test"] + [neg, 0, pos]).argmax(1))
        lo, hi = bootstrap(y["test"], chosen[2], head["test"].argmax(1))
        print(f"chosen on val: beta {chosen[1]} with offsets, test {recall(y['test'], np.eye(3)[chosen[2]])}; "
              f"minus the head alone: 90 % interval [{lo}, {hi}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
