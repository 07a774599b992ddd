"""Render text into images ("memes") for sample data, tests and training.

Pillow only. Every image is a pure function of its arguments and ``seed``:
font, size, colours, background and JPEG artefacts are drawn from a
``random.Random(seed)``, so the same call always gives the same pixels (on a
machine with the same fonts).
"""
from __future__ import annotations

import base64
import importlib.util
import io
import os
import random
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

Background = Literal["solid", "gradient", "noise"]
BACKGROUNDS: tuple[Background, ...] = ("solid", "gradient", "noise")

_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
    "~/.fonts",
    "~/.local/share/fonts",
)
# fonts whose glyphs are symbols, not Latin letters
_SKIP_FONT_WORDS = ("symbol", "emoji", "math", "dingbat", "wingding", "webdings", "icon", "cmex", "cmsy")


def _font_dirs() -> list[Path]:
    dirs = [Path(d).expanduser() for d in _FONT_DIRS]
    spec = importlib.util.find_spec("matplotlib")  # locates its bundled fonts without importing it
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    return [d for d in dirs if d.is_dir()]


@lru_cache(maxsize=1)
def find_fonts() -> tuple[str, ...]:
    """Paths of the TrueType/OpenType fonts on this machine that draw Latin
    text, sorted; empty when there are none (then Pillow's built-in font is used)."""
    found: set[str] = set()
    for directory in _font_dirs():
        for root, _, files in os.walk(directory):
            for name in files:
                lower = name.lower()
                if not lower.endswith((".ttf", ".otf")) or any(w in lower for w in _SKIP_FONT_WORDS):
                    continue
                path = os.path.join(root, name)
                try:
                    font = ImageFont.truetype(path, 20)
                    left, top, right, bottom = font.getbbox("Ag")
                except OSError:
                    continue
                if right - left > 0 and bottom - top > 0:
                    found.add(path)
    return tuple(sorted(found))


def load_font(size: int, path: str | None = None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of ``size`` pixels: ``path``, else the first font found on the
    machine, else Pillow's built-in (scalable since Pillow 10.1) font."""
    if path is None:
        fonts = find_fonts()
        path = fonts[0] if fonts else None
    if path is not None:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          max_width: int) -> list[str]:
    """Greedy word wrap so that each line fits in ``max_width`` pixels."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if not line or draw.textlength(candidate, font=font) <= max_width:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _background(rng: random.Random, kind: Background, size: tuple[int, int]) -> Image.Image:
    width, height = size
    base = tuple(rng.randrange(256) for _ in range(3))
    if kind == "solid":
        return Image.new("RGB", size, base)
    if kind == "gradient":
        other = tuple(rng.randrange(256) for _ in range(3))
        ramp = Image.linear_gradient("L").resize(size)
        if rng.random() < 0.5:
            ramp = ramp.transpose(Image.Transpose.ROTATE_90).resize(size)
        return Image.composite(Image.new("RGB", size, other), Image.new("RGB", size, base), ramp)
    # noise: coarse blotches blended into the base colour, photo-like texture
    cells = (max(1, width // rng.choice((8, 16, 32))), max(1, height // rng.choice((8, 16, 32))))
    noise = Image.frombytes("RGB", cells, rng.randbytes(cells[0] * cells[1] * 3))
    noise = noise.resize(size, Image.Resampling.BICUBIC)
    return Image.blend(Image.new("RGB", size, base), noise, rng.uniform(0.3, 0.8))


def _luminance(img: Image.Image) -> float:
    return sum(img.convert("L").resize((8, 8)).getdata()) / 64.0


def render_meme(
    text: str,
    *,
    seed: int,
    width: int = 512,
    height: int | None = None,
    background: Background | None = None,
    font_size: int | None = None,
    font_path: str | None = None,
    jpeg_quality: int | None = None,
) -> Image.Image:
    """Render ``text`` (word-wrapped, centred) on a background; returns an RGB image.

    Arguments left as None are drawn from ``seed``: ``height`` (0.6-1.2 x
    width), ``background`` (solid, gradient or noise), ``font_size`` (large
    enough to read, small enough to fit), ``font_path`` (one of
    :func:`find_fonts`) and ``jpeg_quality`` (no artefacts for half of the
    seeds, else 25-85: the image goes through a JPEG round trip at that
    quality; pass 0 for none).
    Text is dark or light, whichever contrasts with the background, with an
    outline in the opposite colour half of the time (the classic meme look).
    """
    rng = random.Random(seed)
    height = height or int(width * rng.uniform(0.6, 1.2))
    kind = background or rng.choice(BACKGROUNDS)
    img = _background(rng, kind, (width, height))
    fonts = find_fonts()
    if font_path is None and fonts:
        font_path = rng.choice(fonts)
    size = font_size or max(12, int(width * rng.uniform(0.05, 0.1)))
    draw = ImageDraw.Draw(img)
    margin = width // 16
    while True:
        font = load_font(size, font_path)
        lines = _wrap(draw, text, font, width - 2 * margin)
        line_height = int(size * 1.25)
        if font_size or len(lines) * line_height <= height - 2 * margin or size <= 12:
            break
        size = int(size * 0.85)

    dark_bg = _luminance(img) < 128
    ink = tuple(rng.randrange(200, 256) for _ in range(3)) if dark_bg else tuple(rng.randrange(0, 56) for _ in range(3))
    outline = rng.random() < 0.5
    stroke = max(1, size // 12) if outline else 0
    top = (height - len(lines) * line_height) // 2
    for i, line in enumerate(lines):
        x = (width - draw.textlength(line, font=font)) / 2
        draw.text((x, top + i * line_height), line, font=font, fill=ink,
                  stroke_width=stroke, stroke_fill=(0, 0, 0) if dark_bg else (255, 255, 255))

    if jpeg_quality is None:
        jpeg_quality = rng.randrange(25, 86) if rng.random() < 0.5 else 0
    if jpeg_quality:
        img = Image.open(io.BytesIO(_encode(img, "JPEG", jpeg_quality))).convert("RGB")
    return img


def render_scene(*, seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """A photo-like picture without any text, seeded: a sky gradient, a sun,
    layered hills, a few round shapes and sensor-like grain."""
    rng = random.Random(seed)
    top, horizon = (rng.randrange(40, 120), rng.randrange(90, 180), rng.randrange(160, 256)), (230, 220, 200)
    ramp = Image.linear_gradient("L").resize((width, height))
    img = Image.composite(Image.new("RGB", (width, height), horizon), Image.new("RGB", (width, height), top), ramp)
    draw = ImageDraw.Draw(img)
    r = rng.randrange(height // 16, height // 6)
    cx, cy = rng.randrange(width), rng.randrange(height // 3)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, rng.randrange(200, 256), rng.randrange(120, 200)))
    for layer in range(rng.randint(2, 4)):
        base = height // 2 + layer * height // 10
        points = [(0, height)] + [(x, base - rng.randrange(height // 6)) for x in range(0, width + 64, 64)]
        green = (rng.randrange(20, 90), rng.randrange(80, 160) - layer * 15, rng.randrange(20, 80))
        draw.polygon(points + [(width, height)], fill=green)
    for _ in range(rng.randint(3, 8)):
        x, y, s = rng.randrange(width), rng.randrange(height // 2, height), rng.randrange(8, height // 8)
        draw.ellipse((x - s, y - 2 * s, x + s, y), fill=tuple(rng.randrange(256) for _ in range(3)))
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    return Image.blend(img, grain, 0.06)


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, format="JPEG", quality=quality)
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


def image_to_b64(img: Image.Image, fmt: Literal["PNG", "JPEG"] = "PNG", quality: int = 90) -> str:
    """Encode ``img`` as PNG or JPEG (at ``quality``) and return the base64
    text a post carries in ``{"b64": ...}``."""
    return base64.b64encode(_encode(img, fmt, quality)).decode("ascii")
