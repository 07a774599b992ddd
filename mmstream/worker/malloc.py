"""Keeping a long-running worker's memory flat under glibc.

glibc's malloc gives threads their own arenas (up to eight per core) and
hands memory freed in an arena back to the system only from its top. A worker
allocates from many threads (the model thread, a thread per extractor call,
ONNX Runtime's, aiokafka's, the analytics feed), so freed memory scattered
over many arenas piles up: measured, the resident size of a worker crept up by
56 MB over 18,000 posts after warm-up, and kept creeping. With two arenas it
stayed flat (+1 MB), at no cost in throughput we could measure.

glibc also moves its mmap threshold: a block of at least the threshold gets its own mapping, returned to
the system when freed, and freeing such a block raises the threshold to its size (up to 32 MB). Loading
the models frees large blocks, so afterwards every buffer of up to 32 MB came from the heap: the text
encoders' per-run tensors (ONNX Runtime runs without an arena, ``mmstream/inference/onnx.py``) left
20-30 MB of free but resident heap behind them, interleaved with what the worker keeps. A fixed
threshold (:func:`fix_mmap_threshold`, text-role workers) keeps large buffers in their own mappings. Measured on the
multilingual bench mix, the text extractor alone in one process (the models, then 1,500 texts in batches
of 32): peak 403-404 MB -> 383-384 at 512 KiB (380-383 at 128 KiB, 389-390 at 1-4 MiB), the CPU time the
same within the noise; 73 page faults a post instead of 3.6 (155 at 128 KiB): mapping fresh pages for
the larger tensors costs well under 1 % of a post's CPU. A ``--lanes text`` worker: BENCHMARKS.md, "Lanes".
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: glibc's mallopt parameter number for the arena limit (malloc.h)
M_ARENA_MAX = -8
DEFAULT_ARENAS = 2
#: glibc's mallopt parameter number for the mmap threshold (malloc.h)
M_MMAP_THRESHOLD = -3
#: blocks of this many bytes or more get their own mapping (glibc's start value is 128 KiB, then it moves)
DEFAULT_MMAP_THRESHOLD = 512 * 1024


def limit_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; True when it was applied.

    A ``MALLOC_ARENA_MAX`` in the environment wins (glibc read it at start-up);
    elsewhere than Linux/glibc this does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    return _glibc_call("mallopt", ctypes.c_int(M_ARENA_MAX), ctypes.c_int(arenas))


def fix_mmap_threshold(size: int = DEFAULT_MMAP_THRESHOLD, *, role: str | None = "text") -> bool:
    """Keep glibc's mmap threshold at ``size`` bytes for this process (no dynamic threshold, which also
    keeps the heap's trim threshold at its 128 KiB default); True when it was applied.

    Only for a ``--lanes text`` worker (``role``: the ``lanes`` setting): Whisper (the media lane, and
    the ``all`` and ``inline`` roles that run it) allocates megabytes per step, and each mapped anew cost
    141,000 page faults and +35 % CPU on a 10 s clip (0.75 -> 1.04 s). ``MALLOC_MMAP_THRESHOLD_`` or a
    ``glibc.malloc.mmap_threshold`` tunable in the environment wins; elsewhere than Linux/glibc this does
    nothing."""
    if (role or "all").strip().lower() != "text":
        return False
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or "mmap_threshold" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    return _glibc_call("mallopt", ctypes.c_int(M_MMAP_THRESHOLD), ctypes.c_int(size))


def _glibc_call(function: str, *args: object) -> bool:
    """``function(*args)`` of glibc, True when it returned non-zero; False off Linux or
    where the C library lacks it (musl has no mallopt or malloc_trim)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), function)(*args))
    except (OSError, AttributeError):
        return False


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim(0)``); True when
    something was released.

    Loading the models frees what their loaders held for a moment (decompressed files, the
    serialized graphs ONNX Runtime builds sessions from); glibc keeps such pages resident
    unless they lie at the top of the heap. Measured after a worker's start-up: 459 -> 445 MB.
    Elsewhere than Linux/glibc this does nothing."""
    return _glibc_call("malloc_trim", ctypes.c_size_t(0))
