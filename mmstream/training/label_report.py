"""``mmstream eval``'s labels section (issue 29), on test splits only: the emotion ``none``
rate on neutral and on emotional tweets and the macro-F1 with none; each category's precision
and recall as shown (thresholds from :mod:`mmstream.training.calibrate`); English detected on
English tweets (all, and those of 5 words or fewer); complaint flags on the generated brand-directed dev set
(:mod:`mmstream.evaluation.brand_dev`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from mmstream.training.calibrate import emotion_none_data, emotion_with_none, none_scores, per_label, topic_data


def eval_labels(pipeline: Any) -> dict[str, Any]:
    model = pipeline.model
    out: dict[str, Any] = {}
    none = (model.tasks.get("emotion") or {}).get("none")
    if none:
        y, emo, sent = emotion_none_data(pipeline, "test")
        rule = {k: none[k] for k in ("max_below", "neutral_at", "polar_below") if k in none}
        out["emotion_none_test"] = {**none_scores(y, emotion_with_none(emo, sent, rule)), "rule": rule}
    if model.topic_labels:
        Y, P = topic_data(pipeline, "test")
        thresholds = model.topic_thresholds or dict.fromkeys(model.topic_labels, model.topic_threshold)
        labels = per_label(model.topic_labels, thresholds, Y, P)
        shown = [v for v in labels.values() if v["shown"]]
        tp = sum(round(v["precision"] * v["shown"] / 100) for v in shown)
        out["categories_test"] = {"per_label": labels, "posts": int(len(Y)),
                                  "micro_precision": round(100 * tp / max(1, sum(v["shown"] for v in shown)), 1),
                                  "micro_recall": round(100 * tp / max(1, int(Y.sum())), 1)}
    out["english_detected"] = _english(pipeline)
    from mmstream.evaluation.brand_dev import eval_brand_dev

    dev = eval_brand_dev(pipeline)
    if dev:
        out["complaint_brand_dev"] = dev
    return out


def _english(pipeline: Any) -> dict[str, Any]:
    from mmstream.training.data import tweeteval_sentiment

    texts = [t for t in tweeteval_sentiment("test")[0] if sum(ch.isalpha() for ch in t) >= 3]
    from mmstream.plugin.extractors import text_reader

    reader = text_reader(pipeline.extractors)
    found = []
    for start in range(0, len(texts), 256):  # the text reader's own detection, in its reports
        found += [e.report.get("lang") for e in reader.extract(reader.text_views[0], texts[start:start + 256])]
    short = [f for t, f in zip(texts, found) if len(t.split()) <= 5]
    return {"all": round(100 * float(np.mean([f == "en" for f in found])), 2), "posts": len(found),
            "short": round(100 * float(np.mean([f == "en" for f in short])), 2), "short_posts": len(short)}


def label_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    labels = report.get("labels") or {}
    rows = []
    if "emotion_none_test" in labels:
        e = labels["emotion_none_test"]
        rows.append(("emotion none on neutral / emotional tweets", f"{e['none_on_neutral']:.2f} % / "
                     f"{e['none_on_emotional']:.2f} %  (macro-F1 with none {e['macro_f1_with_none']:.2f})"))
    if "categories_test" in labels:
        c = labels["categories_test"]
        rows.append(("TweetTopicXL test categories as shown", f"micro precision {c['micro_precision']:.1f}, "
                     f"recall {c['micro_recall']:.1f} (n={c['posts']})"))
        for label, v in c["per_label"].items():
            value = ("not shown (validated precision under target)" if v["threshold"] is None else
                     f"P {v['precision'] if v['precision'] is not None else '-'} R {v['recall']} "
                     f"at {v['threshold']:.2f}")
            rows.append((f"  category {label}", value))
    if "english_detected" in labels:
        en = labels["english_detected"]
        rows.append(("English detected on English tweets", f"{en['all']:.2f} % (<= 5 words: {en['short']:.2f} %, "
                     f"n={en['short_posts']})"))
    if "complaint_brand_dev" in labels:
        d = labels["complaint_brand_dev"]
        rows.append(("complaint flags on positive brand posts (dev set)", f"{d['flags_on_positive']:.1f} % (other "
                     f"non-complaints {d['flags_on_other_non_complaints']:.1f} %; complaint recall "
                     f"{d['complaint_recall']:.1f} %, n={d['posts']}, mmstream.evaluation.brand_dev)"))
    return rows
