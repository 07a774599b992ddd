"""Topic quality: mined topics against TweetTopicXL's 19 labels, and against a
plain k-means of the same embeddings, by normalised mutual information (NMI).

For each language (en, es, gr, ja) the 1,000 tweets (train + validation + test,
in file order) are embedded with the worker's text encoder and streamed through
:class:`mmstream.analytics.engine.topics.OnlineTopicMiner` with the default settings.
Three assignments of the miner are scored:

* ``arrival``: the topic each post got when it arrived, posts that fit no topic
  yet counted as one "none" cluster (what results carry);
* ``arrival, assigned only``: the same on the posts that got a topic;
* ``final``: every post to its nearest final topic (comparable to k-means,
  which assigns every post).

k-means (numpy, k-means++ seeding, best of 5 by inertia, seed 0) runs on the
raw embeddings with k = the number of final mined topics and with k = 19.
NMI uses the arithmetic mean of the entropies (scikit-learn's default) on two
ground truths: posts with a single label, and every post with its label set as
the class.

    .venv/bin/python benchmarks/topic_nmi.py [--data ../shared/data/tweet_topicxl] [--langs en,es,gr,ja]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from mmstream.analytics.engine.topics import MinerConfig, OnlineTopicMiner
from mmstream.analytics.engine.topicspace import centred
from mmstream.settings import Settings

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tweet_topicxl"


def load(data: Path, lang: str) -> list[dict]:
    rows = []
    for split in ("train", "validation", "test"):
        path = data / lang / f"{lang}_{split}.jsonl"
        if not path.is_file():
            sys.exit(f"{path} is missing: pass --data PATH_TO/tweet_topicxl (see ../shared/data/README.md)")
        rows += [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return rows


def embed(texts: list[str]) -> np.ndarray:
    from mmstream_text.extractor import TextExtractor

    extractor = TextExtractor(Settings.load())
    extractor.load()
    return extractor.embed_texts(texts)


def nmi(a: list, b: list) -> float:
    """Normalised mutual information, arithmetic normalisation."""
    _, ai = np.unique(np.asarray(a, dtype=object).astype(str), return_inverse=True)
    _, bi = np.unique(np.asarray(b, dtype=object).astype(str), return_inverse=True)
    n = len(ai)
    table = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(table, (ai, bi), 1)
    p = table / n
    pa, pb = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])).sum())
    ha = -float((pa[pa > 0] * np.log(pa[pa > 0])).sum())
    hb = -float((pb[pb > 0] * np.log(pb[pb > 0])).sum())
    return 0.0 if ha == 0 or hb == 0 else mi / ((ha + hb) / 2)


def kmeans(x: np.ndarray, k: int, seed: int = 0, restarts: int = 5, iters: int = 100) -> np.ndarray:
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(restarts):
        centres = [x[rng.integers(len(x))]]
        for _ in range(1, k):  # k-means++ seeding
            d = np.min(((x[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
            centres.append(x[rng.choice(len(x), p=d / d.sum())])
        c = np.array(centres)
        for _ in range(iters):
            labels = ((x[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
            new = np.array([x[labels == j].mean(0) if (labels == j).any() else c[j] for j in range(k)])
            if np.allclose(new, c):
                break
            c = new
        inertia = float(((x - c[labels]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def mine(ids: list[str], texts: list[str], vecs: np.ndarray, config: MinerConfig) -> tuple[list, list, int]:
    """Streamed through the miner: (topic at arrival, nearest final topic, final topic count)."""
    miner = OnlineTopicMiner(config)
    arrival = []
    for i, (pid, text, vec) in enumerate(zip(ids, texts, vecs)):
        t_ms = i * 60_000
        arrival.append(miner.observe(pid, t_ms, vec, text).topic)
        if i % 10 == 9:  # a tumbling window closes every ten posts
            miner.maintain(t_ms)
    active = [t for t in miner.topics.values() if t.status == "active"]
    if not active:
        return arrival, [None] * len(ids), 0
    matrix = centred(np.stack([t.centroid for t in active]), miner.space.mean)
    final = [active[j].id for j in (centred(vecs, miner.space.mean) @ matrix.T).argmax(1)]
    return arrival, final, len(active)


def evaluate(rows: list[dict], vecs: np.ndarray, config: MinerConfig) -> dict:
    ids = [str(r["id"]) for r in rows]
    texts = [r["text"] for r in rows]
    started = time.perf_counter()
    arrival, final, k = mine(ids, texts, vecs, config)
    seconds = time.perf_counter() - started
    single = [i for i, r in enumerate(rows) if len(r["topics"]) == 1]
    truths = {"single-label": (single, [rows[i]["topics"][0] for i in single]),
              "label-set": (list(range(len(rows))), ["|".join(sorted(r["topics"])) for r in rows])}
    methods = {
        "mined, arrival": [a if a else "none" for a in arrival],
        "mined, final": final,
        f"k-means k={k}": kmeans(vecs, max(k, 2)).tolist(),
        "k-means k=19": kmeans(vecs, 19).tolist(),
    }
    out: dict = {"posts": len(rows), "topics": k, "assigned_at_arrival": sum(a is not None for a in arrival) / len(rows),
                 "miner_ms_per_post": 1000 * seconds / len(rows), "nmi": {}}
    for truth, (idx, labels) in truths.items():
        for name, assignment in methods.items():
            out["nmi"][f"{name} | {truth}"] = nmi([assignment[i] for i in idx], labels)
        assigned = [i for i in idx if arrival[i] is not None]
        labels_of = dict(zip(idx, labels))
        out["nmi"][f"mined, arrival, assigned only | {truth}"] = (
            nmi([arrival[i] for i in assigned], [labels_of[i] for i in assigned]) if assigned else 0.0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the tweet_topicxl folder")
    parser.add_argument("--langs", default="en,es,gr,ja")
    args = parser.parse_args()
    config = MinerConfig.from_settings(Settings.load())
    print(f"miner: {config}")
    for lang in args.langs.split(","):
        rows = load(Path(args.data), lang)
        vecs = embed([r["text"] for r in rows])
        res = evaluate(rows, vecs, config)
        print(f"\n[{lang}] posts={res['posts']} mined topics={res['topics']} "
              f"assigned at arrival={res['assigned_at_arrival']:.0%} miner={res['miner_ms_per_post']:.2f} ms/post")
        for key, value in sorted(res["nmi"].items(), key=lambda kv: (kv[0].split(" | ")[1], kv[0])):
            print(f"  NMI {key:<50} {value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
