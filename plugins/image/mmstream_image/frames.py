"""Keyframes of a post's videos (the derived modality ``video_frames``, handed on by the
video plugin as a list of PIL images): read like images, with two differences.

* The text on them becomes the derived text view ``video_text``, each caption line once:
  a burned-in caption stays on screen over many keyframes, and OCR reads it a little
  differently on each (a lost comma, a 1 for an l), so a line that matches one already
  kept (case and spaces aside, at least :data:`SAME_LINE` alike) is dropped.
* Their photo features stand in for the post's ``images`` feature only when the post has
  no images of its own: they are handed on as the derived ``images`` value, a
  :class:`FramePhoto`, and mmstream never extracts a derived modality the post already has
  features for; the ``images`` report then says ``{"source": "video_frames", ...}``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmstream.plugin import Extraction, PostError

FRAMES = "video_frames"
#: how alike (difflib ratio, after case folding and collapsing spaces) two OCR lines must be to count once
SAME_LINE = 0.8


@dataclass(frozen=True)
class FramePhoto:
    """The pooled photo features of a post's keyframes, the derived ``images`` value of ``video_frames``."""

    vector: np.ndarray
    frames: int


def refuse_posted(modality: str) -> PostError:
    """A post that sends ``video_frames`` itself: it is made from ``videos``, never sent."""
    return PostError("unknown_modality", f"'{modality}' is made by the video plugin from a post's 'videos'; send "
                     "the clip under 'videos'.", "validate")


def unique_lines(texts: list[str]) -> str:
    """The lines of every frame's OCR text, top to bottom and frame by frame, each caption line once."""
    kept: list[str] = []
    keys: list[str] = []
    for text in texts:
        for line in text.splitlines():
            key = " ".join(line.casefold().split())
            if not key or any(key == k or difflib.SequenceMatcher(None, key, k).ratio() >= SAME_LINE for k in keys):
                continue
            keys.append(key)
            kept.append(line.strip())
    return "\n".join(kept)


def photo_extraction(photo: FramePhoto) -> Extraction:
    """The ``images`` extraction of a post that has keyframes but no images of its own."""
    return Extraction(features=photo.vector, report={"source": FRAMES, "count": photo.frames})


def frames_extraction(report: dict[str, Any], texts: list[str], pooled: np.ndarray) -> Extraction:
    """The ``video_frames`` extraction: the report with the de-duplicated text, no features of its own,
    the text as ``video_text`` and the photo features as the derived ``images``."""
    text = unique_lines(texts)
    report = {**report, "ocr_text": text}
    derived: dict[str, Any] = {"images": FramePhoto(pooled, report["count"])}
    if text:
        derived["video_text"] = text
    return Extraction(features=None, report=report, derived=derived)
