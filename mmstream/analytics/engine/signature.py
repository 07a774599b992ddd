"""What a post's text is compared by, for duplicates and campaigns (:mod:`mmstream.analytics.engine.duplicates`).

* :func:`normalise`: NFKC, case folded, every leading ``RT @user:`` prefix, URLs, @handles,
  emoji and punctuation removed (a hashtag keeps its word), whitespace collapsed. Two posts
  whose normalised texts are equal are *the same content* (a retweet, a copy-paste).
* :func:`minhash`: a MinHash signature (:data:`HASHES` 32-bit values) of the set of the
  normalised text's character 4-grams, for *nearly the same content*: the share of equal
  values estimates the Jaccard similarity of two texts' 4-gram sets (a bot that swaps a
  word, adds a hashtag or an emoji, or makes a typo keeps most 4-grams). Character n-grams
  rather than words, so a typo costs four shingles, not the whole word's neighbourhood.
* :func:`band_keys`: locality-sensitive hashing over the signature, :data:`BANDS` bands of
  :data:`ROWS` values: two texts of Jaccard ``s`` share at least one band key with probability
  ``1 - (1 - s**4)**16`` (0.64 at 0.5, 0.89 at 0.6, 0.99 at 0.7), which is how candidates are
  found without comparing against every post kept.

Everything is a pure function of the text with fixed seeds: the same text gives the same
signature in every process and release (no ``hash()``, which Python salts per process).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib

import numpy as np

HASHES = 64
BANDS = 16
ROWS = HASHES // BANDS
SHINGLE = 4
_rng = np.random.default_rng(20261206)  # fixed: signatures must agree across processes and releases
_A = _rng.integers(1, 1 << 63, HASHES, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd 64-bit multipliers
_B = _rng.integers(0, 1 << 63, HASHES, dtype=np.uint64) * np.uint64(2)
_SHIFT = np.uint64(32)
_MIX = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F], dtype=np.uint64)[:ROWS]

_RT = re.compile(r"^\s*(?:rt\s+@\w+\s*:?\s*)+", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")


def is_retweet(text: str) -> bool:
    """Whether ``text`` starts with a ``RT @user:`` prefix."""
    return bool(_RT.match(text or ""))


def normalise(text: str) -> str:
    """The text as duplicates are compared: see the module's docstring."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = _RT.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    # letters, digits and marks stay; emoji, symbols, punctuation (the # of a hashtag too) become spaces
    text = "".join(ch if ch.isalnum() or unicodedata.category(ch).startswith("M") else " " for ch in text)
    return _SPACE.sub(" ", text).strip()


def content_key(normalised: str) -> str:
    """A short stable digest of a normalised text (equal texts, equal keys)."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).hexdigest()


def shingles(normalised: str) -> np.ndarray:
    """The CRC-32s of the text's distinct character 4-grams (the whole text when shorter)."""
    if len(normalised) <= SHINGLE:
        grams = {normalised}
    else:
        grams = {normalised[i:i + SHINGLE] for i in range(len(normalised) - SHINGLE + 1)}
    return np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))


def minhash(normalised: str) -> np.ndarray:
    """The MinHash signature (HASHES uint32 values) of the text's 4-gram set: per hash function, the least
    high half of ``a * x + b`` modulo 2**64 (multiply-shift hashing, twice as fast as modulo a prime in numpy)."""
    return ((np.outer(shingles(normalised), _A) + _B) >> _SHIFT).min(axis=0).astype(np.uint32)


def band_keys(signature: np.ndarray) -> list[int]:
    """One key per LSH band (equal bands, equal keys; the band's index is part of the key)."""
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS)
    mixed = (rows * _MIX).sum(axis=1) & np.uint64((1 << 56) - 1)  # wraps mod 2**64: fine, only equality matters
    return [int(k) | (band << 56) for band, k in enumerate(mixed.tolist())]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures' texts."""
    return float(np.count_nonzero(a == b)) / HASHES


#: bits two images' difference hashes may differ by and still be the same picture (of 64)
IMAGE_BITS = 8
IMAGE_BANDS = 4  # 16-bit bands: two hashes within IMAGE_BITS bits share at least one when the bits are spread


def dhash(image: object) -> int:
    """A 64-bit difference hash of a PIL image: 9x8 grey levels, each bit says whether a pixel is brighter
    than its left neighbour. Re-encoding, resizing and small edits change a few bits; another picture about
    half. About 1-2 ms for a 1600x1200 image (shrunk by an integer factor first)."""
    from PIL import Image

    factor = max(1, min(image.size) // 32)  # type: ignore[attr-defined]
    small = image.reduce(factor) if factor > 1 else image  # type: ignore[attr-defined]
    grey = np.asarray(small.convert("L").resize((9, 8), Image.BILINEAR), dtype=np.int16)
    return int(np.packbits((grey[:, 1:] > grey[:, :-1]).flatten()).view(">u8")[0])


def image_signature(hashes: list[int]) -> np.ndarray:
    """Image hashes as a signature: (low, high) 32-bit halves, in order (at most 31 values: never HASHES long)."""
    return np.array([part for h in hashes for part in (h & 0xFFFFFFFF, h >> 32)], dtype=np.uint32)


def image_hashes(signature: np.ndarray) -> list[int]:
    parts = signature.astype(np.uint64).tolist()
    return [int(parts[i]) | (int(parts[i + 1]) << 32) for i in range(0, len(parts), 2)]


def image_band_keys(signature: np.ndarray) -> list[int]:
    """LSH keys of an image signature: each hash's four 16-bit bands (band numbers after the text's)."""
    return sorted({((BANDS + b) << 56) | ((h >> (16 * b)) & 0xFFFF) for h in image_hashes(signature)
                   for b in range(IMAGE_BANDS)})


def image_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - the least Hamming distance between an image of ``a`` and one of ``b``, over 64 bits."""
    return 1 - min(bin(x ^ y).count("1") for x in image_hashes(a) for y in image_hashes(b)) / 64
