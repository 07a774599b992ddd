"""Feature extraction for training and evaluation, through the same
extractor objects the worker uses, cached on disk under ``.cache/features``."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from mmstream.progress import Progress

CACHE_DIR = Path(".cache") / "features"


def cached(name: str, key_parts: Sequence[str], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Load ``name`` from the cache when its key matches, else compute and store it."""
    key = hashlib.sha256("\x00".join(key_parts).encode()).hexdigest()[:16]
    path = CACHE_DIR / f"{name}-{key}.npy"
    if path.is_file():
        return np.load(path)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value


def embed_in_chunks(embed: Callable[[list[str]], np.ndarray], texts: list[str], label: str, chunk: int = 512) -> np.ndarray:
    """Embed ``texts`` chunk by chunk with a progress line."""
    out = []
    with Progress(label, total=len(texts), unit="texts") as progress:
        for start in range(0, len(texts), chunk):
            part = texts[start:start + chunk]
            out.append(embed(part))
            progress.update(len(part))
    return np.concatenate(out, axis=0) if out else np.zeros((0, 0), np.float32)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
