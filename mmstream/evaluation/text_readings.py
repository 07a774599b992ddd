"""A post's texts read one by one: complaint and emotion when the words are heard in a voice note or a video, or
read off an image, with or without a short caption as the post's own text.

Held-out tweets as the post's own text and, for each text view the installed plugins declare for text read or
heard in media (read off an image, heard in a voice note or a video, read in video frames), as that text alone
and beside a short caption as the post's own text (``"story time"``, ``"listen"``: written here, none of the
training's neutral captions). Features come from the text plugin as a worker makes them (the transcript's
features are the tweet's: speech recognition is measured apart, by
``mmstream eval --media``). Figures: complaint-F1, recall and non-complaints flagged on the complaints test part;
emotion macro-F1 over the four emotions (``none`` counts as a miss) and the share read as ``none`` on TweetEval
emotion test; the share read as ``none`` on neutral TweetEval sentiment test tweets.

    .venv/bin/python -m mmstream.evaluation.text_readings [--model-dir DIR] [--limit N]
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

#: short captions a post carries beside its media (evaluation only)
CAPTIONS = ("voice note for you", "watch till the end", "my experience today", "story time", "listen",
            "new video", "long story", "today at the airport", "so this happened", "part 2")


def forms_of(pipeline: Any) -> dict[str, tuple[str, bool]]:
    """form -> (the text view holding the tweet, whether a caption is the post's own text): the own text
    alone, then each other text view the installed plugins declare (text read or heard in media), alone and
    beside a caption: ``{"text": ("text", False), "audio_text alone": ("audio_text", False), "caption +
    audio_text": ("audio_text", True), ...}``."""
    from mmstream.plugin.extractors import text_views

    own, *media = text_views(pipeline.extractors)
    forms = {own: (own, False)}
    for view in media:
        forms[f"{view} alone"] = (view, False)
        forms[f"caption + {view}"] = (view, True)
    return forms


def task_answers(pipeline: Any, texts: list[str], form: str) -> list[dict]:
    """The complaint and emotion fields of each text's post in ``form`` (:func:`forms_of`)."""
    from mmstream.plugin.extractors import text_reader

    reader = text_reader(pipeline.extractors)
    own = reader.text_views[0]
    base, captioned = forms_of(pipeline)[form]
    out = []
    for start in range(0, len(texts), 64):
        chunk = texts[start:start + 64]
        feats = [dict(e.features) for e in reader.extract(base, chunk)]
        if captioned:
            captions = [CAPTIONS[(start + i) % len(CAPTIONS)] for i in range(len(chunk))]
            feats = [{**c.features, **f} for c, f in zip(reader.extract(own, captions), feats)]
        out += [p.task_fields() for p in pipeline.model.predict(feats)]
    return out


def eval_text_readings(pipeline: Any, limit: int | None = None) -> dict[str, Any]:
    from mmstream.training.data import macro_f1, tweeteval_sentiment
    from mmstream.training.tasks import binary_f1, complaint_split, complaints, tweeteval_emotion

    texts, y, _ = complaints()
    test = np.flatnonzero(complaint_split(y) == 2)[:limit]
    c_texts, c_y = [texts[i] for i in test], y[test]
    e_texts, e_y = tweeteval_emotion("test")
    e_texts, e_y = e_texts[:limit], e_y[:limit]
    s_texts, s_y = tweeteval_sentiment("test")
    neutral = [t for t, label in zip(s_texts, s_y) if label == 1][:limit or 1000]
    labels = pipeline.model.tasks["emotion"]["labels"]
    report: dict[str, Any] = {"complaint_posts": len(c_texts), "emotion_posts": len(e_texts), "neutral_posts": len(neutral)}
    for form in forms_of(pipeline):
        flags = np.array([a["complaint"]["label"] for a in task_answers(pipeline, c_texts, form)])
        tp, fp = int(np.sum(flags & (c_y == 1))), int(np.sum(flags & (c_y == 0)))
        emotions = [a["emotion"]["label"] for a in task_answers(pipeline, e_texts, form)]
        pred = np.array([labels.index(e) if e in labels else -1 for e in emotions])
        none_neutral = [a["emotion"]["label"] == "none" for a in task_answers(pipeline, neutral, form)]
        report[form] = {
            "complaint_f1": round(100 * binary_f1(c_y, flags.astype(np.int64)), 2),
            "complaint_recall": round(100 * tp / max(int(np.sum(c_y == 1)), 1), 1),
            "non_complaints_flagged": round(100 * fp / max(int(np.sum(c_y == 0)), 1), 1),
            "emotion_macro_f1": round(100 * macro_f1(e_y, pred, len(labels)), 2),
            "emotion_none": round(100 * float(np.mean(pred == -1)), 1),
            "none_on_neutral": round(100 * float(np.mean(none_neutral)), 1),
        }
    return report


def format_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """``mmstream eval``'s table rows: one per form."""
    rows = []
    for form, r in report.items():
        if isinstance(r, dict):
            rows.append((f"complaints / emotions test, {form}",
                         f"complaint-F1 {r['complaint_f1']:.2f} (recall {r['complaint_recall']:.1f} %); emotion "
                         f"macro-F1 {r['emotion_macro_f1']:.2f}, none on neutral {r['none_on_neutral']:.1f} %"))
    return rows


def main(argv: list[str] | None = None) -> int:
    from mmstream.pipeline.build import build_pipeline
    from mmstream.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default=None, help="the fused model's folder (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=None, help="the first N posts of each set (default: all; "
                                                                "1,000 neutral tweets)")
    args = parser.parse_args(argv)
    settings = Settings.load(**({"model_dir": args.model_dir} if args.model_dir else {}))
    print(json.dumps(eval_text_readings(build_pipeline(settings), args.limit), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
