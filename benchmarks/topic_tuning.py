"""Topic miner settings chosen on TweetTopicXL train + validation, reported on data not used for it.

* **Tuning**: every setting of a small grid (``TOPIC_ASSIGN``, ``TOPIC_BIRTH``,
  ``TOPIC_BIRTH_MIN``, ``TOPIC_MERGE``) streams each language's train + validation tweets
  (200 per language) through the miner; the score is the mean over languages of the
  miner's NMI (every post to its nearest final topic, single-label tweets) minus that
  of k-means with the same k on the same embeddings. The test split is never read here.
* **Report**: the chosen and the default settings on each language's test split (800
  tweets) and on a second corpus used for nothing else: the complaints of
  ``../shared/data/complaints`` (the 1,232 tweets labelled complaints), classed by the
  brand's domain (apparel, transport, software ...). For each: NMI of the miner
  (final assignment; arrival assignment, posts without a topic as one cluster) and of
  k-means with the same k and with k = the number of classes (best of 5, seed 0).

    nice -n 19 .venv/bin/python benchmarks/topic_tuning.py [--langs en,es,gr,ja]
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topic_nmi import DEFAULT_DATA, embed, kmeans, mine, nmi  # noqa: E402

from mmstream.analytics.engine.topics import MinerConfig  # noqa: E402

COMPLAINTS = DEFAULT_DATA.parent / "complaints" / "complaints-data.csv"
GRID = {"assign": (0.15, 0.2, 0.25, 0.3), "birth": (0.2, 0.25, 0.3, 0.35), "birth_min": (3, 5, 8), "merge": (0.7, 0.8)}


def split(lang: str, names: tuple[str, ...]) -> list[dict]:
    rows = []
    for name in names:
        path = DEFAULT_DATA / lang / f"{lang}_{name}.jsonl"
        rows += [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return [r for r in rows if len(r["topics"]) == 1]  # single-label: one class per post


def score(rows: list[dict], vecs: np.ndarray, labels: list[str], config: MinerConfig) -> dict:
    ids = [str(r["id"]) for r in rows]
    arrival, final, k = mine(ids, [r["text"] for r in rows], vecs, config)
    if k == 0:
        return {"k": 0, "miner": 0.0, "arrival": 0.0, "kmeans": 0.0}
    return {"k": k, "miner": nmi(final, labels), "arrival": nmi([a or "none" for a in arrival], labels),
            "kmeans": nmi(kmeans(vecs, max(k, 2)).tolist(), labels)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--langs", default="en,es,gr,ja")
    args = parser.parse_args(argv)
    langs = args.langs.split(",")
    base = MinerConfig.defaults()
    tune = {lang: split(lang, ("train", "validation")) for lang in langs}
    tune_vecs = {lang: embed([r["text"] for r in rows]) for lang, rows in tune.items()}
    results = []
    for values in itertools.product(*GRID.values()):
        config = dataclasses.replace(base, warmup=20, **dict(zip(GRID, values)))
        per = [score(tune[lang], tune_vecs[lang], [r["topics"][0] for r in tune[lang]], config) for lang in langs]
        gain = float(np.mean([p["miner"] - p["kmeans"] for p in per]))
        results.append((gain, float(np.mean([p["miner"] for p in per])), values, config))
    results.sort(key=lambda r: (-r[0], -r[1]))
    gain, mean, values, chosen = results[0]
    print(f"tuned on train+validation ({sum(map(len, tune.values()))} single-label tweets, {len(results)} settings): "
          f"{dict(zip(GRID, values))}, miner - k-means NMI {gain:+.3f} (miner {mean:.3f})")
    default_rank = next(i for i, r in enumerate(results) if r[3] == dataclasses.replace(base, warmup=20)) \
        if dataclasses.replace(base, warmup=20) in [r[3] for r in results] else None
    if default_rank is not None:
        print(f"  the defaults rank {default_rank + 1} of {len(results)} there ({results[default_rank][0]:+.3f})")
    corpora = {f"tweet_topicxl {lang} test": (rows := split(lang, ("test",)), [r["topics"][0] for r in rows])
               for lang in langs}
    with COMPLAINTS.open(encoding="utf-8") as fh:
        complaints = [{"id": row[0], "text": row[1], "domain": row[3]} for row in csv.reader(fh) if row[2] == "1"]
    corpora["complaints by domain"] = (complaints, [r["domain"] for r in complaints])
    print(f"{'corpus':<26} {'settings':<8} {'k':>3} {'NMI miner':>10} {'arrival':>8} {'k-means same k':>15} "
          f"{'k-means k=classes':>18}")
    for name, (rows, labels) in corpora.items():
        vecs = embed([r["text"] for r in rows])
        classes = len(set(labels))
        km_classes = nmi(kmeans(vecs, classes).tolist(), labels)
        for tag, config in (("default", base), ("tuned", dataclasses.replace(chosen, warmup=base.warmup))):
            s = score(rows, vecs, labels, config)
            print(f"{name:<26} {tag:<8} {s['k']:>3} {s['miner']:>10.3f} {s['arrival']:>8.3f} {s['kmeans']:>15.3f} "
                  f"{km_classes:>18.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
