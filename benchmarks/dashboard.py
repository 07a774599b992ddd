"""What one dashboard snapshot costs the worker's event loop, at scale.

A real query store filled with closed windows (BRANDS brands, HOURS hours of
60 s tumbling and 3600/300 s hopping windows), 300 mined topics, 50 alerts,
and the live ring full of mentions; then ``mmstream.web.snapshot.build`` for
each range, timed, and the size of the JSON an event stream sends (warm: the
window index built; a brand's entry is rebuilt only when its windows change). Prints
figures; asserts nothing.

    python benchmarks/dashboard.py [--brands 100] [--hours 24]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import datetime, timezone
from types import SimpleNamespace

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.serving.store import QueryStore
from mmstream.settings import Settings
from mmstream.web import live as live_module
from mmstream.web.index import WindowIndex
from mmstream.web.live import LiveFeed
from mmstream.web.snapshot import RANGES, View, build

T0 = 1_764_000_000


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fill(store: QueryStore, brands: int, hours: int, rng: random.Random) -> int:
    count = 0
    for b in range(brands):
        brand = f"brand{b:03d}"
        for name, size, step in (("tumbling", 60, 60), ("hopping", 3600, 300)):
            for start in range(T0, T0 + hours * 3600, step):
                posts = rng.randint(0, 40)
                neg = rng.randint(0, posts)
                store.add_window({"brand": brand, "window": {"name": name, "size": float(size), "step": float(step),
                                                             "start": iso(start), "end": iso(start + size)},
                                  "closed": True, "posts": posts, "labels": {"negative": neg, "neutral": posts - neg,
                                                                             "positive": 0},
                                  "mean_score": rng.uniform(-1, 1), "share_of_voice": 0.01, "mentions_in_window": 100,
                                  "top_topics": []})
                count += 1
    for t in range(300):
        store.add_topic({"id": f"m-{t:010x}", "label": f"topic {t}", "keywords": ["a", "b", "c"], "posts": t,
                         "status": "active", "last_seen": iso(T0 + hours * 3600)})
    for a in range(50):
        end = T0 + hours * 3600 - a * 600
        store.add_alert({"id": f"volume:brand:brand{a:03d}:{iso(end)}", "kind": "volume",
                         "subject": {"type": "brand", "id": f"brand{a:03d}", "label": f"brand{a:03d}"},
                         "window": {"start": iso(end - 3600), "end": iso(end)}, "figures": {"posts": 50},
                         "example_post_ids": [f"p{a}-{i}" for i in range(5)], "top_topics": []})
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brands", type=int, default=100)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(0)
    settings = Settings()
    store = QueryStore(None, settings.analytics_keep)
    began = time.perf_counter()
    windows = fill(store, args.brands, args.hours, rng)
    print(f"store: {windows:,} windows of {args.brands} brands over {args.hours} h "
          f"(filled in {time.perf_counter() - began:.1f} s)")
    engine = AnalyticsEngine(settings)
    analytics = SimpleNamespace(store=store, engine=engine, spec_names=[s.name for s in engine.specs],
                                owns_engine=lambda: False)
    feed = LiveFeed(settings)
    end = T0 + args.hours * 3600
    for i in range(live_module.MENTIONS):
        pid = f"p{i}"
        feed.add_post({"id": pid, "text": "a post " * 20, "author": "someone"})
        feed.add_result({"id": pid, "created_at": iso(end - 60 + i * 60 / live_module.MENTIONS),
                         "brands": [f"brand{rng.randrange(args.brands):03d}"],
                         "sentiment": {"label": rng.choice(["negative", "neutral", "positive"]), "score": 0.1},
                         "topics": [{"id": f"m-{rng.randrange(300):010x}", "label": "t", "kind": "mined"}]})
    print(f"live ring: {len(feed.recent()):,} mentions")
    index = WindowIndex(store)
    t = time.perf_counter()
    build(analytics, feed, View(range="7d"), index)
    build(analytics, feed, View(range="7d", window="hopping"), index)
    print(f"first build, every brand's windows indexed: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    index.series("brand001", "tumbling").__init__(store.windows("brand001", "tumbling", None, None))
    print(f"re-indexing one brand after its window closed: {1000 * (time.perf_counter() - t):.1f} ms")
    print(f"{'range':>6} {'window':>9} {'filter':>9} {'build ms (median of %d)' % args.repeat:>24} {'JSON KB':>8}")
    for name in ("tumbling", "hopping"):
        for rng_name in RANGES:
            for brand in ("", "brand007"):
                view = View(range=rng_name, window=name, brand=brand)
                times, size = [], 0
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    text = json.dumps(build(analytics, feed, view, index), ensure_ascii=False, separators=(",", ":"))
                    times.append(time.perf_counter() - t)
                    size = len(text.encode())
                print(f"{rng_name:>6} {name:>9} {brand or '-':>9} {1000 * statistics.median(times):>24.1f} "
                      f"{size / 1024:>8.1f}")


if __name__ == "__main__":
    main()
