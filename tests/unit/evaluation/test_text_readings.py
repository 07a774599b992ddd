"""``python -m mmstream.evaluation.text_readings`` on the shipped model: a caption beside a complaint heard in a
voice note or a video, or read off an image, keeps it a complaint (it drowned it: recall 87 -> 6.5 %)."""
from __future__ import annotations

from mmstream.evaluation.text_readings import eval_text_readings, format_rows, forms_of


def test_each_form_reads_complaints_and_emotions_as_the_text_does(mmstream_pipeline):
    report = eval_text_readings(mmstream_pipeline, limit=120)
    assert report["complaint_posts"] == 120 and report["emotion_posts"] == 120 and report["neutral_posts"] == 120
    forms = forms_of(mmstream_pipeline)
    own = next(iter(forms))
    assert len(forms) == 9 and forms[own] == (own, False)  # the own text; four media texts, alone and captioned
    assert all(f in report for f in forms)
    text = report[own]
    assert text["complaint_recall"] > 60 and text["emotion_macro_f1"] > 40, text  # a real reading, not chance
    for form in forms:
        r = report[form]
        assert r["complaint_recall"] >= text["complaint_recall"] - 3, (form, r, text)
        assert r["emotion_macro_f1"] >= text["emotion_macro_f1"] - 5, (form, r, text)
        assert r["none_on_neutral"] >= 60, (form, r)  # issue 29's bar for neutral posts
    rows = format_rows(report)
    assert [label for label, _ in rows] == [f"complaints / emotions test, {form}" for form in forms]
    assert "complaint-F1" in rows[2][1] and "none on neutral" in rows[2][1]
