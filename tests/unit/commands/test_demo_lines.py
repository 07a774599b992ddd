"""The demo's result lines show the text read from a post's images, found through the image
extractor's declarations (issue 26: core names no built-in modality)."""
from __future__ import annotations

import pytest

from mmstream.commands.demo import format_result, image_keys
from mmstream.plugin import Extractor

pytestmark = pytest.mark.unit


class Photos(Extractor):
    modalities = ("photos", "clip_frames")
    dims = {"photos": 4}
    text_views = ("photo_text",)

    def embed_images(self, images):  # what makes it the image extractor
        raise NotImplementedError


def record(**modalities) -> dict:
    return {"id": "p1", "sentiment": {"label": "negative", "score": -0.5}, "modalities": modalities}


def test_the_image_extractors_keys_come_from_its_declarations():
    assert image_keys({"photos": Photos(), "clip_frames": Photos()}) == ("photos", "photo_text")
    assert image_keys({}) == (None, None)


def test_a_line_shows_the_ocr_of_the_posts_images_not_of_a_videos_frames():
    keys = ("photos", "photo_text")
    line = format_result(record(photos={"ocr_text": "WORST DAY"}, photo_text={}), "look", keys)
    assert line.endswith("p1            look [image text] WORST DAY")
    assert "[image text]" not in format_result(record(clip_frames={"ocr_text": "CAPTION"}, photos={"count": 3}), "", keys)
    assert "[image text]" not in format_result(record(photos={"ocr_text": "WORST DAY"}), "look")  # no image plugin
