"""The live feed shows the text read or heard in a post's media from the reports' own fields (``ocr_text``,
``transcript``), whatever plugin wrote them: the feed shows results other workers made."""
from __future__ import annotations

from mmstream.web.live import media_text, mention_of


def test_ocr_first_then_a_transcript_whatever_the_report():
    image = {"modalities": {"text": {"chars": 3}, "images": {"ocr_text": "WORST AIRLINE EVER"}}}
    assert media_text(image) == "WORST AIRLINE EVER" and mention_of(image, None)["ocr_text"] == "WORST AIRLINE EVER"
    voice = {"modalities": {"audio": {"transcript": "the battery lasts two days"}}}
    assert media_text(voice) == "the battery lasts two days"
    clip = {"modalities": {"videos": {"count": 1}, "video_frames": {"ocr_text": " "},
                           "video_audio": {"transcript": "cold coffee"}}}
    assert media_text(clip) == "cold coffee"  # a blank OCR line is no text
    assert media_text({"modalities": {"text": {"chars": 3}}}) is None and mention_of({}, None)["ocr_text"] == ""
