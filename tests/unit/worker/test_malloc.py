"""The worker's glibc settings: arena cap and handing freed heap pages back (pure process logic)."""
from __future__ import annotations

import sys

import pytest

from mmstream.worker.malloc import release_free_memory


def _rss_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_release_free_memory_returns_freed_heap_pages():
    # many small blocks (below glibc's mmap threshold: they live in the heap), then all but the
    # last freed: the last one pins the heap's top, so only malloc_trim can give the pages back
    blocks = [bytearray(64 * 1024) for _ in range(1600)]  # ~100 MB
    for block in blocks:
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    keep = blocks.pop()
    del blocks
    before = _rss_kb()
    assert release_free_memory()
    after = _rss_kb()
    assert before - after > 50 * 1024, (before, after)
    del keep
