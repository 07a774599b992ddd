"""The content cache on the ``retweets`` bench mix (40 % retweets of viral posts): pipeline posts/s
with and without it in one process, its hit rate, and whether any result changed.

One pipeline (text plugin, fused model, every enricher), ``--posts`` posts of the mix in
micro-batches of ``--batch``, run ``--rounds`` times alternately with the cache in front of the text
encoders and without it (the plugin's own ``extract``); the cache is emptied before each cached
round, so every round starts cold. Posts/s is the median round. Under load the absolute rates are
noise; the ratio, taken round by round in one process, is the figure.

    .venv/bin/python benchmarks/content_cache.py [--posts 2000] [--batch 32] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

from mmstream.bench.posts import build_mix, records
from mmstream.pipeline.build import build_pipeline
from mmstream.pipeline.contentcache import ContentCache
from mmstream.settings import Settings

MODEL_FIELDS = ("sentiment", "complaint", "emotion", "modalities", "lang")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings.load(plugins_disabled="image,audio,video")
    pipeline = build_pipeline(settings)
    wrapped = {id(e): e for m, e in pipeline.extractors.items() if m in pipeline.text_views}.values()
    posts = [raw for _, raw in records(build_mix("retweets", args.posts), "cc-")]
    batches = [[(raw, None) for raw in posts[i:i + args.batch]] for i in range(0, len(posts), args.batch)]

    def run() -> tuple[float, list[dict]]:
        began = time.perf_counter()
        out = [o.record for b in batches for o in pipeline.process(b)]
        return len(posts) / (time.perf_counter() - began), out

    run()  # warm-up
    rates: dict[str, list[float]] = {"cache": [], "none": []}
    outputs: dict[str, list[dict]] = {}
    hit_rate = None
    for _ in range(args.rounds):
        for mode in ("cache", "none"):
            fresh = ContentCache(settings.content_cache)
            for e in wrapped:
                e.__dict__.pop("extract", None)
            if mode == "cache":
                fresh.wrap(pipeline.extractors, pipeline.text_views)
                pipeline.content_cache = fresh
            rate, out = run()
            rates[mode].append(rate)
            outputs[mode] = out
            if mode == "cache":
                hit_rate = fresh.describe()["hit_rate"]
    same = all({k: a.get(k) for k in MODEL_FIELDS} == {k: b.get(k) for k in MODEL_FIELDS}
               for a, b in zip(outputs["cache"], outputs["none"]))
    c, n = statistics.median(rates["cache"]), statistics.median(rates["none"])
    print(f"retweets mix, {len(posts)} posts, batches of {args.batch}, {args.rounds} rounds")
    print(f"with the cache: {c:.0f} posts/s (hit rate {hit_rate:.1%}); without: {n:.0f} posts/s; "
          f"ratio {c / n:.2f}x (rounds: {', '.join(f'{a / b:.2f}' for a, b in zip(rates['cache'], rates['none']))}); "
          f"results identical: {same}")


if __name__ == "__main__":
    main()
