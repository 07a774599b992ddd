"""Safe decoding of the images a post carries.

A post's ``images`` is a list of ``{"b64": "<base64 of a PNG/JPEG/WebP/GIF>"}``.
Everything is checked from the cheapest signal first: the list shape, the
base64 text, the byte size, the header (format, declared pixel count, frame
count) and only then the pixels, so a hostile post costs little. Posts are
data: a file path or URL in a post is never opened.
"""
from __future__ import annotations

import base64
import binascii
import io
import struct
import warnings
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from mmstream.plugin import PostError, check_value_type
from mmstream_image.limits import ImageLimits, env_name

#: formats a post may carry (Pillow names; Pillow opens many camera JPEGs as "MPO", through its JPEG opener)
FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
#: decoded images are kept at most this many pixels on their longer side
MAX_SIDE = 2048
#: ``Image.info`` key holding the (width, height) the post sent, before downscaling
ORIGINAL_SIZE = "original_size"
_SOURCE_KEYS = ("url", "path", "file", "href", "src")


def _fail(reason: str, detail: str) -> PostError:
    return PostError(reason, detail, "validate")


def decode_images(modality: str, value: Any, limits: ImageLimits) -> list[Image.Image]:
    """Check a post's image list and decode every entry.

    Returns RGB images (the first frame of an animation), downscaled to at
    most ``MAX_SIDE`` pixels a side, each with its original size under
    ``img.info[ORIGINAL_SIZE]``. Raises :class:`PostError` (stage
    ``validate``) naming the entry and the setting to change (``limits``: the plugin's own,
    :class:`~mmstream_image.limits.ImageLimits`).
    """
    check_value_type(modality, value, list, 'a list of {"b64": "<base64 image>"} objects')
    if not value:
        raise _fail("empty_images", f"'{modality}' is an empty list; send at least one image or leave the key out.")
    if len(value) > limits.max_images:
        raise _fail("too_many_images", f"'{modality}' has {len(value)} images, more than the limit of "
                    f"{limits.max_images}; send fewer or raise {env_name('max_images')}.")
    return [decode_image(f"{modality}[{i}]", entry, limits) for i, entry in enumerate(value)]


def decode_image(where: str, entry: Any, limits: ImageLimits) -> Image.Image:
    """Decode one ``{"b64": ...}`` entry; ``where`` (``images[0]``) prefixes the details."""
    data = _entry_bytes(where, entry, limits)
    # Pillow's own bomb check warns (or raises) past Image.MAX_IMAGE_PIXELS; make the warning an error
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = _open(where, data)
            _check_header(where, img, limits)
            return _pixels(where, img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            limit = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
            raise _fail("decompression_bomb", f"{where} declares more pixels than the image decoder will decode "
                        f"({exc}); downscale it to at most {limit} pixels ({env_name('max_pixels')}).") from None


def _entry_bytes(where: str, entry: Any, limits: ImageLimits) -> bytes:
    # an entry naming a source elsewhere is refused even beside b64 (README: never fetched, never trusted)
    if isinstance(entry, dict) and any(k in entry for k in _SOURCE_KEYS):
        raise _fail("unsupported_image_source", f"{where} points to the image elsewhere; mmstream never fetches "
                    'URLs or files named in a post. Embed the bytes as {"b64": "<base64>"}.')
    if not isinstance(entry, dict) or not isinstance(entry.get("b64"), str):
        raise _fail("wrong_type", f'{where} must be an object {{"b64": "<base64 image>"}}, got '
                    f"{type(entry).__name__}{' without a string b64' if isinstance(entry, dict) else ''}; "
                    "fix the producer.")
    text = entry["b64"]
    # the size from the text length, before allocating the bytes (4 characters carry 3 bytes)
    size = len(text) // 4 * 3 - text[-2:].count("=")
    if size > limits.max_bytes:
        raise _too_large(where, size, limits)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _fail("invalid_base64", f"{where}.b64 is not valid base64 (standard alphabet, padded, no line "
                    "breaks or data: prefix); encode the raw image bytes with base64.") from None
    if len(data) > limits.max_bytes:
        raise _too_large(where, len(data), limits)
    return data


def _too_large(where: str, size: int, limits: ImageLimits) -> PostError:
    return _fail("image_too_large", f"{where} is {size} bytes, over the limit of {limits.max_bytes}; "
                 f"compress or downscale it, or raise {env_name('max_bytes')}.")


def _truncated(where: str, exc: Exception) -> PostError:
    return _fail("truncated_image", f"{where} is truncated or corrupt ({exc}); re-encode and resend the "
                 "complete file.")


def _open(where: str, data: bytes) -> ImageFile.ImageFile:
    """Parse the header only (no pixels yet), accepting the allowed formats."""
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        other = _identify(data)
    except (OSError, SyntaxError, ValueError, IndexError) as exc:
        raise _fail("not_an_image", f"{where} has a broken image header ({exc}); re-encode the image.") from None
    if other:
        raise _fail("unsupported_image_format", f"{where} is a {other} image; send PNG, JPEG, WebP or GIF.")
    raise _fail("not_an_image", f"{where} decodes to bytes that are not an image; send PNG, JPEG, WebP or GIF.")


def _identify(data: bytes) -> str | None:
    """The format Pillow recognises among all it knows (header only), for the message."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.format
    except Exception:  # noqa: BLE001 - any failure means "not an image we can name"
        return None


def _check_header(where: str, img: ImageFile.ImageFile, limits: ImageLimits) -> None:
    width, height = img.size
    if width < 1 or height < 1:
        raise _fail("not_an_image", f"{where} declares an empty {width}x{height} image; send a real image.")
    if width * height > limits.max_pixels:
        raise _fail("decompression_bomb", f"{where} declares {width}x{height} = {width * height} pixels, over the "
                    f"limit of {limits.max_pixels}; downscale it or raise {env_name('max_pixels')}.")
    try:
        frames = getattr(img, "n_frames", 1)  # header count (PNG, WebP) or a skip over the frames (GIF), no decoding
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise _truncated(where, exc) from None
    if frames > limits.max_frames:
        raise _fail("too_many_frames", f"{where} has {frames} frames, over the limit of "
                    f"{limits.max_frames}; send a still or a shorter animation, or raise "
                    f"{env_name('max_frames')}.")


def _pixels(where: str, img: ImageFile.ImageFile) -> Image.Image:
    """Decode the first frame, upright, as RGB on white, at most ``MAX_SIDE`` a side."""
    original = img.size
    if img.format in ("JPEG", "MPO") and max(original) > MAX_SIDE:
        scale = MAX_SIDE / max(original)
        img.draft(None, (round(original[0] * scale), round(original[1] * scale)))  # DCT-domain downscale
    try:
        img.seek(0)
        img.load()  # ImageFile.LOAD_TRUNCATED_IMAGES stays False, so missing data raises here
        out = ImageOps.exif_transpose(img)
        if out.mode.startswith("I"):  # 16-bit grey: keep the top 8 bits (Pillow's convert would clip to white)
            out = Image.fromarray((np.asarray(out).astype(np.int64) >> 8).clip(0, 255).astype(np.uint8))
        if out.mode in ("RGBA", "LA", "PA") or "transparency" in out.info:
            rgba = out.convert("RGBA")
            out = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        out = out.convert("RGB")
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise _truncated(where, exc) from None
    if max(out.size) > MAX_SIDE:
        out.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    out.info[ORIGINAL_SIZE] = _upright(original, img)
    return out


def _upright(size: tuple[int, int], img: Image.Image) -> tuple[int, int]:
    """``size`` with the sides swapped when the EXIF orientation rotates by 90 degrees."""
    orientation = img.getexif().get(0x0112, 1)
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size
