"""The result's ``lang``: the post's own, else the first text view whose language the text plugin could tell."""
from __future__ import annotations


from mmstream.pipeline.outcomes import lang_fields


VIEWS = ("text", "image_text", "audio_text")


def test_the_post_s_own_language_wins():
    assert lang_fields("fr", {"text": {"lang": "en"}}, VIEWS) == {"lang": "fr", "lang_source": "given"}


def test_a_view_that_names_a_language_wins_over_an_earlier_und():
    # "Brutal." alone is und; the voice note's transcript is clearly Spanish
    reports = {"text": {"lang": "und"}, "audio_text": {"lang": "es"}}
    assert lang_fields(None, reports, VIEWS) == {"lang": "es", "lang_source": "detected"}


def test_views_keep_their_order_and_und_stays_when_nothing_tells():
    assert lang_fields(None, {"text": {"lang": "en"}, "audio_text": {"lang": "es"}}, VIEWS)["lang"] == "en"
    assert lang_fields(None, {"text": {"lang": "und"}, "image_text": {"lang": "und"}}, VIEWS) == \
        {"lang": "und", "lang_source": "detected"}
    assert lang_fields(None, {}, VIEWS) == {"lang": None, "lang_source": None}
