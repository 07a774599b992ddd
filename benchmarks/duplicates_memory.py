"""The duplicates/campaigns state stays bounded: RSS while one partition's state
(:class:`mmstream.analytics.pipeline.copies.CopyState`, the settings' defaults) takes ``--posts`` posts.

Posts are real TweetEval tweets (train) in turn, each with a few random words appended so that
most are new texts (the index's worst case: every post kept until evicted), one post a
second of event time, a new account every post, plus a campaign of 40 bot accounts every 10,000
posts and a retweet every 5th post. Prints the process RSS, the posts kept, the clusters followed
and the answers remembered every ``--every`` posts, and the checkpoint size at the end.

    .venv/bin/python benchmarks/duplicates_memory.py [--posts 1000000] [--every 100000]
"""
from __future__ import annotations

import argparse
import random
import resource
import time
import zlib
from pathlib import Path

from mmstream.analytics.engine.campaigns import CampaignConfig
from mmstream.analytics.engine.copystate import CopyState
from mmstream.analytics.engine.duplicates import DuplicateConfig
from mmstream.analytics.state.tags import copies_codec
from mmstream.settings import Settings

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tweeteval" / "sentiment" / "train_text.txt"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    args = parser.parse_args()
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is missing: this benchmark reads TweetEval from ../shared/data")
    tweets = [t for t in DATA.read_text(encoding="utf-8").splitlines() if t.strip()]
    words = "alpha beta gamma delta omega river stone cloud night amber copper violet".split()
    s = Settings.load()
    state = CopyState(DuplicateConfig.from_settings(s), CampaignConfig.from_settings(s))
    rng = random.Random(0)
    t0, began = 1_764_000_000_000, time.perf_counter()
    print(f"start: RSS {rss_mb():.0f} MB; max entries {state.index.config.max_entries}, "
          f"TTL {state.index.config.ttl_ms / 1000:g} s, max clusters {state.tracker.config.max_clusters}")
    i = 0
    while i < args.posts:
        t = t0 + i * 1000
        if i % 10_000 == 5_000:
            for j in range(40):  # a campaign
                state.observe(f"c{i}-{j}", t + j, f"Do NOT trust zenbank, they charged me twice {rng.choice(words)}",
                              f"bot{i}-{j}")
            i += 40
            continue
        if i % 5 == 4:
            text = f"RT @user{i - 3}: {tweets[(i - 3) % len(tweets)]}"
        else:
            text = f"{tweets[i % len(tweets)]} {' '.join(rng.choices(words, k=3))} {i}"
        state.observe(f"p{i}", t, text, f"user{i}")
        i += 1
        if i % args.every == 0:
            print(f"{i:>9} posts: RSS {rss_mb():.0f} MB, kept {len(state.index)}, clusters "
                  f"{len(state.tracker.clusters)}, answers {len(state.tracker.answers)}, "
                  f"{(time.perf_counter() - began) / i * 1e6:.0f} us/post", flush=True)
    body = zlib.compress(copies_codec().dumps(state), 1)
    print(f"checkpoint of the final state: {len(body) / 1e6:.1f} MB; stats {state.index.stats} {state.tracker.stats}")


if __name__ == "__main__":
    main()
