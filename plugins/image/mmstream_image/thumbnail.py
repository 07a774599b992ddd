"""A small thumbnail of a post's first image, or of its first keyframe that is not a blank fade, for the
dashboard's live feed: made here, where the picture is already decoded, and handed on in the report
(``modalities.images.thumbnail``, ``modalities.video_frames.thumbnail``) like any other report field.

Bounded so that results stay small: one a report (so at most one for the images and one for the
keyframes of a post), at most :data:`SIDE` pixels a side, a baseline JPEG without metadata (no EXIF: no
place, no camera), at most :data:`MAX_BYTES` (the quality steps down until it fits, else there is none).
Typically 2-5 KB. ``MMSTREAM_FEED_THUMBNAILS=0`` turns them off (no thumbnail leaves the worker).

A picture that fails to shrink or encode gives no thumbnail; the post goes on.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Sequence

from PIL import Image, ImageStat

#: the longest side, in pixels (the feed shows it at half that, sharp on a 2x screen)
SIDE = 128
#: one thumbnail's JPEG bytes at most (before base64)
MAX_BYTES = 12_000
#: JPEG qualities tried in turn until the thumbnail fits in MAX_BYTES
QUALITIES = (70, 55, 40)
#: keyframes looked at for one that is not a blank fade (a grey-level spread under BLANK)
TRIES = 3
BLANK = 6.0


def shrink(img: Image.Image) -> Image.Image:
    """``img`` as RGB, at most :data:`SIDE` a side (never enlarged), its proportions kept."""
    rgb = img.convert("RGB") if img.mode != "RGB" else img
    width, height = rgb.size
    scale = min(1.0, SIDE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0) if size != rgb.size else rgb.copy()


def blank(img: Image.Image) -> bool:
    """A picture of almost one colour: a fade to black, a white title card's margin."""
    return ImageStat.Stat(img.convert("L")).stddev[0] < BLANK


def encode(small: Image.Image) -> bytes | None:
    """The JPEG of ``small`` at the first quality that fits in :data:`MAX_BYTES`; None when none does."""
    for quality in QUALITIES:
        buf = io.BytesIO()
        small.save(buf, format="JPEG", quality=quality, optimize=True)
        if buf.tell() <= MAX_BYTES:
            return buf.getvalue()
    return None


def make_thumbnail(images: Sequence[Image.Image], *, keyframes: bool = False) -> dict[str, Any] | None:
    """The report's ``thumbnail``: ``{"type": "image/jpeg", "width", "height", "of", "shows", "b64"}`` (``of``:
    which of ``images`` it shows; ``shows``: "image" or "video keyframe", the feed's alt text) of the first image, or with ``keyframes`` of the first of the first
    :data:`TRIES` that is not blank (else the first). None without images, or when none could be made."""
    try:
        chosen: tuple[int, Image.Image] | None = None
        for i, img in enumerate(images[:TRIES if keyframes else 1]):
            small = shrink(img)
            if chosen is None:
                chosen = (i, small)
            if not keyframes or not blank(small):
                chosen = (i, small)
                break
        if chosen is None:
            return None
        data = encode(chosen[1])
    except Exception:  # noqa: BLE001 - a thumbnail is a courtesy: without one the post goes on
        return None
    if data is None:
        return None
    width, height = chosen[1].size
    return {"type": "image/jpeg", "width": width, "height": height, "of": chosen[0],
            "shows": "video keyframe" if keyframes else "image",
            "b64": base64.b64encode(data).decode("ascii")}
