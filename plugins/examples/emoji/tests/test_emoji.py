"""The example plugin's own tests, with mmstream.testing's fixtures (a pytest plugin shipped with mmstream)."""
from __future__ import annotations

import json
import urllib.request

import pytest

from mmstream.plugin import ConfigError, Settings
from mmstream_emoji import EmojiCounter
from mmstream_emoji.emoji import emoji_of


def test_emoji_are_found_with_modifiers_and_flags():
    assert emoji_of("great 👍🏽 trip 🇵🇹🇵🇹 ❤️ ok") == ["👍", "🇵🇹", "🇵🇹", "❤"]
    assert emoji_of("no emoji here :)") == []


def test_reactions_are_reported_and_emoji_counted(make_post, mmstream_score):
    post = make_post(text="worst airline 😡😡 lost my bag 😭 #fail", reactions={"angry": 30, "like": 2, "sad": 8})
    [result] = mmstream_score([post])
    assert result["modalities"]["reactions"] == {
        "total": 40, "top": "angry",
        "shares": {"like": 0.05, "love": 0.0, "haha": 0.0, "wow": 0.0, "sad": 0.2, "angry": 0.75}}
    assert result["emoji"] == {"count": 3, "top": ["😡", "😭"], "positive": 0, "negative": 3}
    assert result["sentiment"]["label"] == "negative"  # the text still decides the model's answer


def test_a_post_without_emoji_says_zero(make_post, mmstream_score):
    [result] = mmstream_score([make_post(text="a plain sentence")])
    assert result["emoji"] == {"count": 0, "top": [], "positive": 0, "negative": 0}


@pytest.mark.parametrize("reactions, reason", [
    ({"like": -1}, "bad_count"), ({"like": True}, "bad_count"), ({"meh": 3}, "unknown_reaction"),
    ([1, 2], "wrong_type")])
def test_bad_reactions_are_dead_lettered_with_their_reason(make_post, mmstream_score, reactions, reason):
    [dead] = mmstream_score([make_post(text="hi", reactions=reactions)])
    assert dead["reason"] == reason and dead["stage"] == "validate"


CARD = {"url": "https://news.example.com/acme-air", "title": "Acme Air cancels 200 flights, strands thousands",
        "description": "Passengers say the airline lost their bags and nobody answers the phone. Awful service."}


def test_a_link_cards_words_are_read_like_the_posts_own_text(make_post, mmstream_score):
    """No text of its own: the card's words (the text view link_text) give the sentiment, language and
    complaint; the report names the card's domain."""
    [result] = mmstream_score([make_post(link=CARD)])
    assert result["modalities"]["link"] == {"domain": "news.example.com"}
    assert result["modalities"]["link_text"]["lang"] == "en"
    assert result["sentiment"]["label"] == "negative" and result["complaint"]["label"] is True
    assert (result["lang"], result["lang_source"]) == ("en", "detected")


@pytest.mark.parametrize("card, reason", [
    ({"url": "ftp://x.example/a", "title": "t"}, "bad_url"), ({"url": "https://x.example/a"}, "empty_value"),
    ({"url": "https://x.example/a", "title": "t", "image": "x"}, "unknown_field"),
    ({"url": "https://x.example/a", "title": "t" * 1001}, "too_long"), ("https://x.example/a", "wrong_type")])
def test_bad_link_cards_are_dead_lettered_with_their_reason(make_post, mmstream_score, card, reason):
    [dead] = mmstream_score([make_post(text="hi", link=card)])
    assert dead["reason"] == reason and dead["stage"] == "validate"


def test_its_setting(monkeypatch):
    monkeypatch.setenv("MMSTREAM_PLUGIN_EMOJI_TOP", "1")
    assert EmojiCounter.from_settings(Settings.load()).top == 1
    monkeypatch.setenv("MMSTREAM_PLUGIN_EMOJI_TOP", "many")
    with pytest.raises(ConfigError, match="MMSTREAM_PLUGIN_EMOJI_TOP"):
        EmojiCounter.from_settings(Settings.load())


def test_through_a_worker(make_post, mmstream_worker):
    mmstream_worker.produce([make_post(id="w1", text="love this 😍🎉", reactions={"love": 5}),
                             make_post(id="w2", text="x", reactions={"like": "many"})])
    results, dead = mmstream_worker.outcomes(2)
    assert results["w1"]["emoji"]["positive"] == 2 and results["w1"]["modalities"]["reactions"]["top"] == "love"
    assert [d["reason"] for d in dead] == ["bad_count"]
    # the plugin's page on the worker's web server (register_routes)
    port = mmstream_worker.settings.web_port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/emoji/stats", timeout=10) as response:
        assert json.load(response) == {"posts": 1, "emoji": 2}
