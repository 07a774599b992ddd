"""TweetEval sentiment through `mmstream score`, end to end: the split's texts
turned into posts, scored by the same pipeline the worker runs, compared with
the gold labels. Prints macro-recall (the official metric), accuracy, macro-F1.

    python benchmarks/score_tweeteval.py [--split test] [--limit N]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mmstream.training.data import SENTIMENT_LABELS, macro_f1, macro_recall, tweeteval_sentiment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--split", default="test", choices=["val", "test"])
    parser.add_argument("--limit", type=int, default=0, help="only the first N tweets")
    args = parser.parse_args()
    texts, labels = tweeteval_sentiment(args.split)
    if args.limit:
        texts, labels = texts[: args.limit], labels[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        posts, out = Path(tmp) / "posts.jsonl", Path(tmp) / "out.jsonl"
        with open(posts, "w", encoding="utf-8") as fh:
            for i, text in enumerate(texts):
                fh.write(json.dumps({"id": f"{args.split}-{i}", "created_at": 0, "text": text or " "}) + "\n")
        started = time.time()
        subprocess.run([sys.executable, "-m", "mmstream", "score", str(posts), "-o", str(out)], check=True)
        seconds = time.time() - started
        records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    index = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
    pred = np.array([index[r["sentiment"]["label"]] if "sentiment" in r else -1 for r in records])
    dead = int(np.sum(pred < 0))
    figures = {
        "split": args.split, "posts": len(texts), "dead_letters": dead,
        "macro_recall": round(100 * macro_recall(labels, pred), 2),
        "accuracy": round(100 * float(np.mean(pred == labels)), 2),
        "macro_f1": round(100 * macro_f1(labels, pred), 2),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
