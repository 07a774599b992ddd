"""The image plugin's thumbnail for the dashboard's feed: a JPEG of at most 128 px a side and 12 KB, no
metadata, of the first image or of the first keyframe that is not a blank fade; a picture that cannot be
made into one gives none (the post goes on); MMSTREAM_FEED_THUMBNAILS=0 makes none. The maker alone (no
models), then through the real extractor (its real encoder and OCR) for an image post and for keyframes."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.render import render_meme
from mmstream.settings import Settings
from mmstream_image import thumbnail as thumb_module
from mmstream_image.thumbnail import MAX_BYTES, SIDE, make_thumbnail


def _fitted(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(1.0, SIDE / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _decoded(thumb: dict) -> Image.Image:
    data = base64.b64decode(thumb["b64"], validate=True)
    assert data[:3] == b"\xff\xd8\xff" and len(data) <= MAX_BYTES
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and img.size == (thumb["width"], thumb["height"])
    assert not img.getexif() and "exif" not in img.info and "icc_profile" not in img.info  # no metadata carried over
    return img


@pytest.mark.parametrize("size", [(4000, 3000), (2048, 1536), (640, 360), (360, 640), (128, 128), (10, 3000)])
def test_a_thumbnail_is_a_small_jpeg_of_the_pictures_proportions(size):
    rng = np.random.default_rng(sum(size))
    # worst case for a JPEG: noise at full resolution (still under the byte bound after shrinking)
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    thumb = make_thumbnail([img])
    assert thumb is not None and thumb["type"] == "image/jpeg" and thumb["of"] == 0
    small = _decoded(thumb)
    assert max(small.size) == min(SIDE, max(size)) and min(small.size) >= 1
    assert abs(small.size[0] / small.size[1] - size[0] / size[1]) < 0.02 * max(1, size[0] / size[1]) + 0.1
    assert len(thumb["b64"]) <= MAX_BYTES * 4 // 3 + 4


def test_a_small_picture_is_never_enlarged_and_any_mode_becomes_rgb():
    for mode in ("L", "RGBA", "P", "CMYK", "I;16"):
        thumb = make_thumbnail([Image.new(mode, (40, 30))])
        assert thumb is not None and (thumb["width"], thumb["height"]) == (40, 30), mode
        assert _decoded(thumb).mode == "RGB"


def test_a_real_meme_keeps_its_look_in_a_few_kilobytes():
    meme = render_meme("I absolutely love this new phone", seed=3, width=640, background="solid")
    thumb = make_thumbnail([meme, Image.new("RGB", (50, 50), "red")])
    small = _decoded(thumb)
    assert thumb["of"] == 0 and small.size == _fitted(meme.size)
    assert len(base64.b64decode(thumb["b64"])) < 6000
    # the same picture, shrunk: mean colour within a few levels
    expect = np.asarray(meme.convert("RGB").resize(small.size), dtype=float).mean(axis=(0, 1))
    assert np.abs(np.asarray(small, dtype=float).mean(axis=(0, 1)) - expect).max() < 8


def test_keyframes_skip_a_blank_fade_but_images_do_not():
    black, scene = Image.new("RGB", (640, 360)), render_meme("COLD COFFEE", seed=1, width=640, background="solid")
    assert make_thumbnail([black, scene], keyframes=True)["of"] == 1
    assert make_thumbnail([black, scene])["of"] == 0  # a posted image is shown as it is
    assert make_thumbnail([black, black], keyframes=True)["of"] == 0  # all blank: the first
    assert make_thumbnail([]) is None


def test_quality_steps_down_until_it_fits_and_none_when_it_never_does(monkeypatch):
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8))
    sizes = {}
    for quality in thumb_module.QUALITIES:
        buf = io.BytesIO()
        noise.save(buf, format="JPEG", quality=quality, optimize=True)
        sizes[quality] = buf.tell()
    qualities = sorted(sizes, reverse=True)
    monkeypatch.setattr(thumb_module, "MAX_BYTES", sizes[qualities[-1]])  # only the lowest quality fits
    assert len(base64.b64decode(make_thumbnail([noise])["b64"])) == sizes[qualities[-1]]
    monkeypatch.setattr(thumb_module, "MAX_BYTES", sizes[qualities[-1]] - 1)
    assert make_thumbnail([noise]) is None


def test_a_picture_that_fails_gives_no_thumbnail_and_raises_nothing():
    class Broken(Image.Image):
        mode, size = "RGB", (64, 64)

        def resize(self, *args, **kwargs):
            raise OSError("image file is truncated")

        def copy(self):
            raise OSError("image file is truncated")

    assert make_thumbnail([Broken()]) is None
    assert make_thumbnail([Broken()], keyframes=True) is None


@pytest.fixture(scope="module")
def image():
    extractor = register_extractors(get_plugin_manager(), Settings())["images"]
    extractor.load()
    return extractor


def test_the_extractor_reports_one_thumbnail_per_post_and_one_for_its_keyframes(image):
    meme = render_meme("WORST AIRLINE EVER", seed=2, width=512, background="solid")
    other = Image.new("RGB", (300, 200), "blue")
    [one, two] = image.extract("images", [[meme], [other, meme]])
    assert set(one.report["thumbnail"]) == {"type", "width", "height", "of", "shows", "b64"}
    assert one.report["thumbnail"]["shows"] == "image"  # the feed's alt text
    assert _decoded(one.report["thumbnail"]).size == _fitted(meme.size)
    assert two.report["thumbnail"]["of"] == 0 and _decoded(two.report["thumbnail"]).size == (128, 85)  # the first only
    [frames] = image.extract("video_frames", [[Image.new("RGB", (640, 360)), meme]])
    assert frames.report["thumbnail"]["of"] == 1  # past the black keyframe
    assert frames.report["thumbnail"]["shows"] == "video keyframe"
    assert "thumbnail" not in frames.derived["images"].__dict__  # the stand-in images feature carries none


def test_feed_thumbnails_off_makes_none(image, monkeypatch):
    monkeypatch.setenv("MMSTREAM_FEED_THUMBNAILS", "0")
    off = type(image)(Settings.load())
    off.encoder, off.ocr, off.faces = image.encoder, image.ocr, image.faces  # the loaded models, shared
    [result] = off.extract("images", [[Image.new("RGB", (300, 200), "blue")]])
    assert "thumbnail" not in result.report and result.report["count"] == 1


def test_the_thumbnail_is_the_field_enriched_json_documents():
    import json

    import jsonschema

    from mmstream.schemas import versions
    from paths import REPO

    schema = json.loads((REPO / "mmstream" / "schemas" / "enriched.json").read_text())
    record = {"schema": versions.RESULT, "id": "p", "created_at": "2026-11-28T09:00:00Z", "brands": [], "lang": None,
              "sentiment": None, "topics": [], "model": "m", "modalities": {
                  "images": {"count": 1, "thumbnail": make_thumbnail([Image.new("RGB", (4000, 10), "red")])},
                  "video_frames": {"thumbnail": make_thumbnail([Image.new("RGB", (64, 64))], keyframes=True)}}}
    jsonschema.Draft202012Validator(schema).validate(record)
    record["modalities"]["images"]["thumbnail"]["type"] = "image/svg+xml"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(record)
