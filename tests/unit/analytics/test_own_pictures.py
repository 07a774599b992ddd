"""The duplicates enricher compares a post by the pictures it sent, found among its own values by
what they are (decoded images), not by a plugin's key (issue 26: core names no built-in modality)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from PIL import Image

from mmstream.analytics.pipeline.copies import own_pictures
from mmstream.pipeline.post import Post
from mmstream.pipeline.work import WorkItem
from mmstream.plugin import Item

pytestmark = pytest.mark.unit


def item(modalities: dict, derived: dict | None = None) -> Item:
    work = WorkItem(b"{}", None, post=Post("p", datetime(2026, 1, 1, tzinfo=timezone.utc), modalities))
    work.values = {**modalities, **(derived or {})}
    return Item(work)


def test_the_posts_own_decoded_images_are_its_pictures_whatever_key_carries_them():
    red, blue = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
    assert own_pictures(item({"text": "lol", "images": [red, blue]})) == [red, blue]
    assert own_pictures(item({"photos": [blue]})) == [blue]  # a plugin's own key


def test_text_clips_and_derived_values_are_not_pictures():
    frames = object()  # a video's keyframes, handed on under an image key: not what the post sent
    assert own_pictures(item({"text": "lol", "videos": [b"clip", {"ref": "x"}]}, {"images": frames})) == []
    assert own_pictures(item({"text": "lol"}, {"photos": [Image.new("RGB", (8, 8))]})) == []
