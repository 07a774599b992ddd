"""Mined topics on corpora the miner was not tuned on: NMI against plain k-means
with the same k, and what the labels look like.

Corpora (the miner's settings were chosen on TweetTopicXL train + validation,
``benchmarks/topic_tuning.py``; none of these was read for it, nor for the
keyword rules): TweetTopicXL test per language (its single-label tweets, the
label as class) and the complaints of ``../shared/data/complaints`` (1,232
tweets, the brand's domain as class). Each corpus streams through
:class:`~mmstream.analytics.engine.topics.OnlineTopicMiner` with the default settings
(a tumbling window closes every ten posts). Printed per corpus:

* NMI of the miner, every post to its nearest final topic (``final``) and the
  topic each post got at arrival, posts without one as a "none" cluster
  (``arrival``, what results carry);
* NMI of k-means (k-means++, best of 5 restarts) with the same k, mean and
  range over seeds 0-4, and the miner's margin over the mean;
* labels: topics published, labels holding a number, a handle, markup or a
  word of a configured brand (0 is the bar), and label changes per topic.

    nice .venv/bin/python benchmarks/topic_labels.py [--langs en,es,gr,ja] [--seeds 5]
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topic_nmi import DEFAULT_DATA, embed, kmeans, nmi  # noqa: E402
from topic_tuning import split  # noqa: E402

from mmstream.analytics.engine.topics import MinerConfig, OnlineTopicMiner  # noqa: E402
from mmstream.analytics.engine.topicspace import centred  # noqa: E402

COMPLAINTS = DEFAULT_DATA.parent / "complaints" / "complaints-data.csv"
#: brands the complaints corpus names most (its handles are taken out anyway); stand-ins for a brands file
COMPLAINT_BRANDS = ("amazon", "apple", "verizon", "comcast", "united", "delta", "uber", "xfinity", "tmobile",
                    "t-mobile", "att", "at&t", "netflix", "spotify", "walmart", "target", "starbucks", "google")
_NOISY = re.compile(r"\d|^@|<|>|&|^https?$|^www$|^script$")


def stream(rows: list[dict], vecs: np.ndarray, config: MinerConfig) -> dict:
    miner = OnlineTopicMiner(config)
    arrival, labels_seen = [], {}
    for i, (row, vec) in enumerate(zip(rows, vecs)):
        seen = miner.observe(str(row["id"]), i * 60_000, vec, row["text"])
        records = seen.records
        if i % 10 == 9:
            records += miner.maintain(i * 60_000)
        for r in records:
            if r.get("label"):
                labels_seen.setdefault(r["id"], []).append(r["label"])
        published = seen.topic is not None and miner.label(seen.topic) is not None
        arrival.append(seen.topic if published else None)
    active = [t for t in miner.topics.values() if t.status == "active"]
    final = [None] * len(rows)
    if active:
        matrix = centred(np.stack([t.centroid for t in active]), miner.space.mean)
        final = [active[j].id for j in (centred(vecs, miner.space.mean) @ matrix.T).argmax(1)]
    return {"arrival": arrival, "final": final, "k": len(active), "miner": miner, "labels": labels_seen}


def report(name: str, rows: list[dict], classes: list[str], config: MinerConfig, seeds: int) -> None:
    vecs = embed([r["text"] for r in rows])
    run = stream(rows, vecs, config)
    k = max(run["k"], 2)
    km = [nmi(kmeans(vecs, k, seed=s).tolist(), classes) for s in range(seeds)]
    final, arrival = nmi(run["final"], classes), nmi([a or "none" for a in run["arrival"]], classes)
    brands = set(config.brands) | {b.replace(" ", "") for b in config.brands}
    shown = [labels[-1] for labels in run["labels"].values()]
    noisy = [lab for lab in shown if any(_NOISY.search(w) or w.lstrip("#") in brands for w in lab.split(" · "))]
    changes = [len(set(labels)) - 1 for labels in run["labels"].values()]
    print(f"{name:<22} n={len(rows):>5} k={run['k']:>3}  NMI final {final:.3f}  arrival {arrival:.3f}  "
          f"k-means same k {np.mean(km):.3f} [{min(km):.3f}-{max(km):.3f}]  margin {final - np.mean(km):+.3f}  |  "
          f"labelled {len(shown)}/{len(run['miner'].topics)} topics, noisy labels {len(noisy)}, "
          f"label changes/topic {np.mean(changes) if changes else 0:.2f}", flush=True)
    for lab in sorted(shown)[:12]:
        print(f"    {lab}")
    if noisy:
        print(f"    noisy: {noisy}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--langs", default="en,es,gr,ja")
    parser.add_argument("--seeds", type=int, default=5, help="k-means seeds (default 5)")
    args = parser.parse_args(argv)
    if not COMPLAINTS.is_file():
        sys.exit(f"{COMPLAINTS} is missing: the data sets live in ../shared/data (see its README.md)")
    base = MinerConfig.defaults()
    for lang in args.langs.split(","):
        rows = split(lang, ("test",))
        report(f"tweet_topicxl {lang} test", rows, [r["topics"][0] for r in rows], base, args.seeds)
    with COMPLAINTS.open(encoding="utf-8") as fh:
        complaints = [{"id": row[0], "text": row[1], "domain": row[3]} for row in csv.reader(fh) if row[2] == "1"]
    report("complaints by domain", complaints, [r["domain"] for r in complaints],
           MinerConfig.defaults(brands=COMPLAINT_BRANDS), args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
