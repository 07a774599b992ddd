"""Analytics engine restart time against mentions retained, with and without checkpoints.

A synthetic stream (``--brands`` brands, ``--themes`` topics as directions in a 384-d
embedding space, ``--rate`` mentions per second of event time, the default windows,
miner and detector) is replayed the way a restarting worker replays ``<prefix>mentions``:
every mention is a JSON line decoded by ``Mention.from_json`` and fed to the engine.
At each mark (10k, 100k, 1M mentions) the script reports

* **full replay**: the time to rebuild the engine from the start of the log (what a
  restart costs without checkpoints; measured, it is the replay itself);
* **checkpoint**: the time to freeze the state (on the worker's event loop: the engine
  stands still meanwhile), to write it in the data format of
  :mod:`mmstream.analytics.state.checkpoint` (not pickle; in a thread), its size, and the time to load it;
* **restart with checkpoints**: load + replay of the mentions since the checkpoint,
  at worst ``MMSTREAM_ANALYTICS_CHECKPOINT_EVERY`` (50,000) of them at the measured rate.

One process, one thread (run it under ``nice``); no Kafka: the broker's fetch is not counted.

    .venv/bin/python benchmarks/restart.py [--marks 10000,100000,1000000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.events import Mention, TopicRef
from mmstream.analytics.state.checkpoint import Checkpoints
from mmstream.settings import Settings

T0 = 1_764_320_400.0


def stream(n: int, brands: int, themes: int, rate: float, seed: int = 0):
    """``n`` mention JSON lines: each of a theme (its direction plus noise) and 1-2 brands."""
    rng = np.random.default_rng(seed)
    bases = rng.normal(size=(themes, 384)).astype(np.float32)
    words = [[f"w{t}_{k}" for k in range(8)] for t in range(themes)]
    labels = ("negative", "neutral", "positive")
    block = 4096
    for first in range(0, n, block):
        size = min(block, n - first)
        theme = rng.integers(themes, size=size)
        noise = rng.normal(size=(size, 384)).astype(np.float32)
        vecs = bases[theme] + 0.8 * noise
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        brand = rng.zipf(1.5, size=size) % brands
        second = rng.random(size) < 0.1
        label = rng.integers(3, size=size)
        jitter = rng.uniform(-2, 2, size=size)
        for k in range(size):
            i = first + k
            bs = [f"brand{brand[k]}"] + ([f"brand{(brand[k] + 1) % brands}"] if second[k] else [])
            text = " ".join(rng.choice(words[theme[k]], size=4))
            yield Mention(f"p{i}", T0 + i / rate + jitter[k], bs, labels[label[k]], float(label[k] - 1) * 0.8,
                          [TopicRef(f"cat{theme[k] % 19}", "category", f"cat{theme[k] % 19}")], vecs[k], text,
                          src=i % 4, pt=T0 + i / rate).to_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--marks", default="10000,100000,1000000", help="mention counts to report at")
    parser.add_argument("--brands", type=int, default=200)
    parser.add_argument("--themes", type=int, default=40)
    parser.add_argument("--rate", type=float, default=20.0, help="mentions per second of event time")
    args = parser.parse_args(argv)
    marks = sorted(int(m) for m in args.marks.split(","))
    with tempfile.TemporaryDirectory() as data:
        settings = Settings.load(data_dir=data)
        every = settings.analytics_checkpoint_every
        engine = AnalyticsEngine(settings)
        checkpoints = Checkpoints(settings.replace(analytics_checkpoint_keep=len(marks) + 1))
        began = time.perf_counter()
        busy = 0.0
        rows = []
        print(f"{'retained':>10} {'full replay s':>14} {'per mention us':>15} {'freeze s':>9} {'ckpt write s':>13} "
              f"{'ckpt MB':>8} "
              f"{'ckpt load s':>12} {'restart s (worst)':>18}")
        for i, line in enumerate(stream(marks[-1], args.brands, args.themes, args.rate), start=1):
            t = time.perf_counter()
            engine.process(Mention.from_json(line))
            busy += time.perf_counter() - t
            engine.next_offset = i
            if i % 100_000 == 0:
                print(f"  ... {i:,} mentions, {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
            if i in marks:
                t = time.perf_counter()
                offset, frozen = checkpoints.snapshot(engine)  # on the worker's event loop
                freeze = time.perf_counter() - t
                t = time.perf_counter()
                path = checkpoints.write(offset, frozen)  # in the checkpoint thread
                write = time.perf_counter() - t
                t = time.perf_counter()
                loaded = checkpoints.load(at_most=i)
                load = time.perf_counter() - t
                assert loaded is not None and loaded.next_offset == i
                per = busy / i
                worst = load + min(every, i) * per
                rows.append((i, busy, per, freeze, write, path.stat().st_size / 1e6, load, worst))
                print(f"{i:>10,} {busy:>14.1f} {per * 1e6:>15.1f} {freeze:>9.2f} {write:>13.2f} "
                      f"{path.stat().st_size / 1e6:>8.1f} {load:>12.2f} {worst:>18.1f}", flush=True)
        print(f"engine after {marks[-1]:,}: {engine.describe()['active_topics']} active topics, "
              f"{engine.stats['windows_closed']:,} windows closed; checkpoint every {every:,} mentions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
