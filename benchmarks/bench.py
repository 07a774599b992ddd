"""Throughput and latency of mmstream against the model's own limit and a
per-event peer, side by side in one run: the same as ``mmstream bench``.

    python benchmarks/bench.py [--posts 3000] [--image-posts 1000] [--json out.json]
"""
from __future__ import annotations

import sys

from mmstream.bench.run import main

if __name__ == "__main__":
    sys.exit(main())
