"""Two fused models on TweetEval sentiment test, text posts: macro-recall of each, the difference with a
paired bootstrap (2,000 resamples, 90 % interval) and the share of tweets given the same label.

Both read the same text features (the trainer's feature cache, ``.cache/features``, made by ``mmstream
train`` on first use), fed straight to each ``model.onnx``, so only the fused graphs differ: used to check
that ``mmstream train --media-texts --from DIR`` keeps the answers of DIR for posts without media text.

    .venv/bin/python benchmarks/model_agreement.py OLD_MODEL_DIR NEW_MODEL_DIR
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def labels(model_dir: Path, features: dict[str, np.ndarray], n: int) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options)
    feeds = {i.name: np.zeros((n, i.shape[1]), np.float32) for i in session.get_inputs()}
    for name, x in features.items():
        feeds[name], feeds[f"{name}_mask"] = x.astype(np.float32), np.ones((n, 1), np.float32)
    return session.run(["sentiment"], feeds)[0].argmax(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path, help="a fused model's folder (model.onnx, config.json)")
    parser.add_argument("new", type=Path, help="the other one")
    args = parser.parse_args()

    from mmstream.settings import Settings
    from mmstream.training.data import macro_recall
    from mmstream.training.extractors import TEXT_VIEWS, FeatureNames, text_reader
    from mmstream.training.features import file_digest
    from mmstream.training.inputs import loaded_extractors, split_features

    extractors = loaded_extractors(Settings.load())
    names, reader = FeatureNames.of(extractors), text_reader(extractors)
    files = reader.model_files()
    digests = {view: file_digest(files[names.text(names.own, view)]) for view in TEXT_VIEWS}
    X, y = split_features(reader, digests, "test")
    features = {names.text(names.own, view): X[view] for view in TEXT_VIEWS}
    a, b = (labels(folder, features, len(y)) for folder in (args.old, args.new))
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(2000):
        i = rng.integers(0, len(y), len(y))
        diffs.append(100 * (macro_recall(y[i], b[i]) - macro_recall(y[i], a[i])))
    lo, hi = np.percentile(diffs, [5, 95])
    print(f"TweetEval test (n={len(y)}), text posts: {args.old} {100 * macro_recall(y, a):.2f}, {args.new} "
          f"{100 * macro_recall(y, b):.2f}, difference {100 * (macro_recall(y, b) - macro_recall(y, a)):+.2f} "
          f"(90 % {lo:+.2f}..{hi:+.2f}); the same label for {100 * np.mean(a == b):.1f} %")


if __name__ == "__main__":
    main()
