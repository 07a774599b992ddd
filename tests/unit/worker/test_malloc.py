"""The worker's glibc settings: arena cap, a fixed mmap threshold and handing freed heap pages back (pure
process logic)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmstream.worker.malloc import fix_mmap_threshold, release_free_memory


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


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc without mallinfo2 (< 2.33)")
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


CHECK = """
import ctypes, sys
sys.path.insert(0, {tests!r})
from test_malloc import _libc
from mmstream.worker.malloc import fix_mmap_threshold
libc = _libc()
fixed = fix_mmap_threshold() if {fix} else False
size = 8 * 1024 * 1024
first = libc.malloc(size)
libc.free(first)
mapped = libc.mallinfo2().hblkhd
second = libc.malloc(size)
print(fixed, libc.mallinfo2().hblkhd - mapped >= size)
libc.free(second)
"""


def _second_block_mapped(fix: bool) -> tuple[bool, bool]:
    """In a fresh process (a long one, as the test run, may hold a free 8 MB chunk in its heap that
    serves the block whatever the threshold; and mallopt would stay set for the tests after)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", CHECK.format(tests=str(Path(__file__).parent), fix=fix)],
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    return out[0] == "True", out[1] == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_fixed_mmap_threshold_keeps_large_blocks_out_of_the_heap():
    # glibc's own rule: freeing a mapped block raises the threshold to its size, so the next block of
    # that size comes from the heap and stays resident there once freed. With the threshold fixed,
    # the second block is mapped too (mallinfo2's hblkhd: bytes in mapped blocks)
    _libc()  # skips without mallinfo2
    assert _second_block_mapped(fix=True) == (True, True)
    assert _second_block_mapped(fix=False) == (False, False)  # glibc's dynamic threshold: from the heap


def test_the_environment_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert not fix_mmap_threshold()


@pytest.mark.parametrize("role", ["all", "media", "inline", None])
def test_only_a_text_role_worker_fixes_it(monkeypatch, role):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert not fix_mmap_threshold(role=role)
