"""``mmstream eval --media`` (mmstream/evaluation): the spoken form of tweets, WER and macro-recall on
known small cases, the figures from records, and one tweet built as a voice note, a spoken video and
a captioned clip (speech by "espeak-ng", muxed by PyAV) through the session's pipeline."""
from __future__ import annotations

import numpy as np

from mmstream.evaluation.media import (edit_distance, figures, format_rows, heard, macro_recall, paired_interval,
                                       run, word_error_rate)
from mmstream.evaluation.spoken import Item, build, say_handle, spoken_form


def test_tweets_are_said_as_people_say_them():
    assert say_handle("AmericanAir") == "American Air"
    assert say_handle("realDonaldTrump") == "real Donald Trump"
    assert say_handle("POTUS") == "POTUS"
    assert say_handle("united_fail") == "united fail"
    assert spoken_form("@user @AmericanAir you lost my bag again!!! http://t.co/x1 😡 #unitedfail") == \
        "American Air you lost my bag again! unitedfail"
    assert spoken_form("RT @SpeakerRyan: jobs &amp; growth www.example.com <3") == "Speaker Ryan: jobs and growth"
    assert spoken_form("@user @user https://t.co/abc") == ""


def test_word_error_rate_and_macro_recall_on_known_cases():
    assert edit_distance("the cat sat".split(), "the cat sat down".split()) == 1  # an insertion
    assert edit_distance("a b c".split(), "a x".split()) == 2  # a substitution and a deletion
    # words: lower case, punctuation dropped; 1 + 2 edits over 3 + 4 reference words
    refs, hyps = ["The cat sat.", "I love my phone"], ["the cat sat down", "i loved phone"]
    assert word_error_rate(refs, hyps) == round(300 / 7, 2)
    assert word_error_rate(["same words"], ["Same, words!"]) == 0.0
    y, pred = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0])
    assert macro_recall(y, pred) == 66.67  # recalls 1/2, 2/2, 1/2
    assert macro_recall(y, np.array([-1] * 6)) == 0.0  # no sentiment (a dead letter) counts as wrong
    assert paired_interval(y, pred, pred) == (0.0, 0.0)


def _item(label: int, brand: str | None) -> Item:
    return Item(0, label, "t", "said words", brand, "en-us", 160, 2.0, "a.ogg", "v.mp4", "c.mp4")


def test_figures_from_records():
    items = [_item(0, "acme"), _item(2, None), _item(1, "nimbus"), _item(2, None)]

    def rec(label, brands=(), **mods):
        return {"sentiment": {"label": label}, "brands": list(brands), "modalities": mods}

    text = [rec("negative", ["acme"]), rec("positive"), rec("neutral", ["nimbus"]), rec("positive")]
    audio = [rec("negative", ["acme"], audio={"transcript": "said words"}), rec("neutral", audio={"transcript": "sad"}),
             {"reason": "corrupt_audio"}, rec("positive", ["acme"], audio={"transcript": ""})]
    report = figures(items, {"text": (text, [0.1] * 4, [0.1] * 4), "audio": (audio, [1.0] * 4, [1.5] * 4)})
    a = report["audio"]
    assert report["text"]["macro_recall"] == 100.0 and report["text"]["brand_matched"] == 100.0
    assert a["macro_recall"] == 50.0 and a["vs_text"] == -50.0  # recalls 1, 0 (dead letter), 1/2
    assert a["dead_letters"] == 1 and a["brand_matched"] == 50.0 and a["brand_false"] == 50.0
    assert a["wer"] == 75.0  # 0 + 2 + 2 + 2 edits over 8 words (a dead letter heard nothing)
    assert a["rtf"] == 2.0 and a["ms_per_clip"] == 1000.0 and a["cpu_ms_per_clip"] == 1500.0
    assert any("media [audio]" in k and "-50.00 vs text" in v for k, v in format_rows(report))


def test_one_tweet_as_voice_note_video_and_captions_through_the_pipeline(tmp_path, mmstream_pipeline):
    folder, items = build(1, root=tmp_path)
    assert [p.name for p in sorted(folder.iterdir())] == ["0000.captions.mp4", "0000.ogg", "0000.spoken.mp4",
                                                          "manifest.json"]
    assert build(1, root=tmp_path)[1] == items  # cached: read back, not rebuilt
    runs = {c: run(mmstream_pipeline, items, folder, c) for c in ("audio", "video", "captions")}
    for carrier, (records, walls, cpus) in runs.items():
        assert records[0].get("sentiment"), (carrier, records[0])
        assert walls[0] > 0 and cpus[0] > 0
    said = items[0].said
    assert word_error_rate([said], [heard(runs["audio"][0][0], "audio")]) < 60
    assert word_error_rate([said], [heard(runs["video"][0][0], "video")]) < 60
    assert word_error_rate([said], [heard(runs["captions"][0][0], "captions")]) < 20
    report = figures(items, runs)
    assert report["audio"]["rtf"] > 0 and "rtf" not in report["captions"]


def test_the_media_section_goes_before_the_eval_section_and_replaces_an_earlier_one(tmp_path):
    from mmstream.evaluation.media import MEDIA_HEADING, record_card
    from mmstream.training.card import EVAL_HEADING

    card = tmp_path / "MODEL_CARD.md"
    card.write_text(f"# Model card\n\n## Limits\n\n- some\n\n{EVAL_HEADING}\n\n```\ntable\n```\n")
    m = {"tweets": 2, "speech_seconds": 9.0, "branded": 1, "captions": {
        "macro_recall": 50.0, "vs_text": -1.0, "vs_text_90": (-2.0, 0.5), "brand_matched": 100.0, "wer": 0.0,
        "ms_per_clip": 800.0, "cpu_ms_per_clip": 700.0}}
    record_card(card, m)
    record_card(card, {**m, "tweets": 3})
    text = card.read_text()
    assert text.count(MEDIA_HEADING) == 1 and "--media 3 " in text and "--media 2 " not in text
    assert text.index("## Limits") < text.index(MEDIA_HEADING) < text.index(EVAL_HEADING)
    assert "media [captions] macro-recall  50.00 (-1.00 vs text" in text and text.endswith("```\ntable\n```\n")
