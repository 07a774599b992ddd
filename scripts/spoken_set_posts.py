"""Write the spoken TweetEval set of ``mmstream eval --media`` as JSON-lines posts, to replay through a
real worker (``mmstream produce FILE``) or score (``mmstream score FILE``): each tweet as the carriers
asked for, media inline as base64, ids ``media-<carrier>-<test line>``.

    python scripts/spoken_set_posts.py --count 100 --carriers audio,video,captions --out /tmp/spoken.jsonl

The set is built (espeak-ng, PyAV, Pillow) or reused from ~/.cache/mmstream/media-eval, as the eval does;
its labels go to ``<out>.labels.tsv`` (id, label 0/1/2, brand) for scoring the results.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmstream.evaluation.media import CARRIERS, post
from mmstream.evaluation.spoken import SEED, build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="tweets (default 100)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"which tweets, voices and speeds (default {SEED})")
    parser.add_argument("--carriers", default="audio,video,captions",
                        help=f"comma-separated, of {', '.join(CARRIERS)} (default audio,video,captions)")
    parser.add_argument("--out", required=True, help="the JSON-lines file to write")
    args = parser.parse_args()
    carriers = [c.strip() for c in args.carriers.split(",") if c.strip()]
    unknown = sorted(set(carriers) - set(CARRIERS))
    if unknown:
        parser.error(f"unknown carriers {unknown}; use some of {', '.join(CARRIERS)}")
    folder, items = build(args.count, args.seed)
    out = Path(args.out)
    with out.open("wb") as fh, out.with_suffix(out.suffix + ".labels.tsv").open("w") as labels:
        for carrier in carriers:
            for item in items:
                fh.write(post(item, carrier, folder) + b"\n")
                labels.write(f"media-{carrier}-{item.index}\t{item.label}\t{item.brand or ''}\n")
    print(f"wrote {len(carriers) * len(items)} posts to {out} (set {folder})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
