"""``mmstream eval``: the shipped pipeline and model measured on held-out data.

* TweetEval sentiment test: macro-recall (official), accuracy, macro-F1, through
  the same pipeline the worker runs (posts in, results out);
* TweetTopicXL test: macro-F1 of the model's 19 categories per language;
* memes: held-out test tweets rendered into images (seeds apart from training),
  with and without a neutral caption, scored through the full image path (real
  OCR), against the same tweets scored as plain text;
* speed: the text path's posts/s, model only (tokenising, encoders, fused
  model) and through the whole pipeline, and model time per post carrying a
  text image (a meme) and a photo without text;
* media (``--media N``): N held-out tweets spoken as voice notes and videos and burned into silent
  clips as captions, against the same tweets as text (:mod:`mmstream.evaluation.media`).
"""
from __future__ import annotations

import json
import statistics
import time
from typing import Any

import numpy as np

from mmstream.errors import ConfigError
from mmstream.pipeline.build import build_pipeline
from mmstream.pipeline.batch import Pipeline
from mmstream.plugin.extractors import Extractor, text_reader
from mmstream.progress import Progress
from mmstream.settings import Settings

LANGS = ("en", "es", "gr", "ja")
MEME_SEED = 7_000_003  # apart from the training seeds
CAPTIONS = ("look at this", "thoughts?", "saw this today", "no comment")
#: the fields of core's posts schema (mmstream/schemas/posts.json) the eval's posts are written in: the
#: tweets as text, the memes as images
TEXT, IMAGES = "text", "images"


def _posts(texts: list[str], prefix: str, lang: str | None = None) -> list[bytes]:
    extra = {"lang": lang} if lang else {}
    return [json.dumps({"id": f"{prefix}-{i}", "created_at": 0, TEXT: t or ".", **extra}).encode()
            for i, t in enumerate(texts)]


def _run(pipeline: Pipeline, raws: list[bytes], label: str) -> tuple[list[dict], float]:
    out: list[dict] = []
    size = pipeline.settings.batch_size
    started = time.perf_counter()
    with Progress(label, total=len(raws), unit="posts") as progress:
        for start in range(0, len(raws), size):
            batch = raws[start:start + size]
            out += [o.record for o in pipeline.process([(raw, None) for raw in batch])]
            progress.update(len(batch))
    return out, time.perf_counter() - started


def _labels(records: list[dict]) -> np.ndarray:
    index = {"negative": 0, "neutral": 1, "positive": 2}
    return np.array([index[r["sentiment"]["label"]] if r.get("sentiment") else -1 for r in records])


def _sentiment_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from mmstream.training.data import macro_f1, macro_recall

    return {"macro_recall": round(100 * macro_recall(y, pred), 2), "accuracy": round(100 * float(np.mean(pred == y)), 2),
            "macro_f1": round(100 * macro_f1(y, pred), 2)}


def eval_sentiment(pipeline: Pipeline, limit: int | None) -> dict[str, Any]:
    from mmstream.training.data import tweeteval_sentiment

    texts, y = tweeteval_sentiment("test")
    texts, y = texts[:limit] if limit else texts, y[:limit] if limit else y
    records, seconds = _run(pipeline, _posts(texts, "test"), "sentiment test")
    return {**_sentiment_scores(y, _labels(records)), "posts": len(texts), "posts_per_s": round(len(texts) / seconds, 1)}


def own_text(pipeline: Pipeline) -> tuple[Extractor, str]:
    """The extractor that reads text (``reads_text``) and its first text view, a post's own text: what
    the text measures call directly, by the plugins' declarations (issue 26)."""
    reader = text_reader(pipeline.extractors)
    if reader is None or not reader.text_views:
        raise ConfigError("mmstream eval needs a plugin that reads text (reads_text, with a text view): "
                          "install the text plugin (pip install -e plugins/text)")
    return reader, reader.text_views[0]


def eval_text_model_speed(pipeline: Pipeline, count: int = 3000) -> dict[str, float]:
    """The worker's text path, model only: the text extractor (tokenising, both
    encoders) and the fused model over micro-batches, no JSON, no Kafka."""
    from mmstream.training.data import tweeteval_sentiment

    texts = [t or "." for t in tweeteval_sentiment("test")[0][:count]]
    (text, own), size = own_text(pipeline), pipeline.settings.batch_size
    started = time.perf_counter()
    for start in range(0, len(texts), size):
        extractions = text.extract(own, texts[start:start + size])
        pipeline.model.predict([e.features for e in extractions])
    seconds = time.perf_counter() - started
    return {"posts": len(texts), "posts_per_s": round(len(texts) / seconds, 1), "ms_per_post": round(1000 * seconds / len(texts), 2)}


def eval_topics(pipeline: Pipeline) -> dict[str, float]:
    from mmstream.training.data import tweet_topics
    from mmstream.training.head import multilabel_macro_f1

    model, (text, own) = pipeline.model, own_text(pipeline)
    if not model.topic_labels:
        return {}
    scores = {}
    for lang in LANGS:
        texts, Y = tweet_topics(lang, "test")
        # the text plugin's own path: a text it detects as non-English goes through its multilingual encoder
        features = [e.features for e in text.extract(own, texts)]
        probs = np.stack([p.topics for p in model.predict(features)])
        scores[lang] = round(100 * multilabel_macro_f1(Y, probs >= model.topic_threshold), 2)
    return scores


def eval_umsab(pipeline: Pipeline) -> dict[str, Any]:
    """UMSAB test (7 languages) through the pipeline, each post with its language given."""
    from mmstream.training.data import macro_f1, macro_recall
    from mmstream.training.multilingual import UMSAB_LANGS, umsab

    out: dict[str, Any] = {}
    for folder, code in UMSAB_LANGS.items():
        texts, y = umsab(folder, "test")
        records, _ = _run(pipeline, _posts(texts, f"umsab-{code}", code), f"UMSAB test [{code}]")
        pred = _labels(records)
        out[code] = {"macro_f1": round(100 * macro_f1(y, pred), 2), "macro_recall": round(100 * macro_recall(y, pred), 2),
                     "posts": len(y)}
    out["avg_macro_f1"] = round(float(np.mean([v["macro_f1"] for v in out.values()])), 2)
    return out


def eval_complaints(pipeline: Pipeline, seed: int = 13) -> dict[str, Any]:
    """The complaints data's held-out part (the seeded split of training): complaint F1 and
    macro-F1 of the results' ``complaint.label``, and how the complaints' sentiment reads."""
    from mmstream.training.data import macro_f1
    from mmstream.training.tasks import binary_f1, complaint_split, complaints

    texts, y, _ = complaints()
    test = np.where(complaint_split(y, seed) == 2)[0]
    records, _ = _run(pipeline, _posts([texts[i] for i in test], "complaint"), "complaints test")
    pred = np.array([int(bool((r.get("complaint") or {}).get("label"))) for r in records])
    sentiment = _labels(records)[y[test] == 1]
    return {"complaint_f1": round(100 * binary_f1(y[test], pred), 2), "macro_f1": round(100 * macro_f1(y[test], pred, 2), 2),
            "posts": len(test), "complaints_read_as_neutral": round(100 * float(np.mean(sentiment == 1)), 2),
            "complaints_read_as_negative": round(100 * float(np.mean(sentiment == 0)), 2)}


def eval_emotion(pipeline: Pipeline) -> dict[str, Any]:
    from mmstream.training.data import macro_f1
    from mmstream.training.tasks import EMOTION_LABELS, tweeteval_emotion

    texts, y = tweeteval_emotion("test")
    records, _ = _run(pipeline, _posts(texts, "emotion"), "emotion test")
    index = {label: i for i, label in enumerate(EMOTION_LABELS)}
    pred = np.array([index.get((r.get("emotion") or {}).get("label"), -1) for r in records])
    return {"macro_f1": round(100 * macro_f1(y, pred, 4), 2), "accuracy": round(100 * float(np.mean(pred == y)), 2), "posts": len(y)}


def eval_mixed_speed(pipeline: Pipeline, count: int = 2000) -> dict[str, Any]:
    """Posts/s through the whole pipeline on a mix of half English (TweetEval test) and half
    non-English (UMSAB test, its seven languages in turn), no language given."""
    from mmstream.training.data import tweeteval_sentiment
    from mmstream.training.multilingual import half_non_english

    texts = half_non_english(tweeteval_sentiment("test")[0], count)
    records, seconds = _run(pipeline, _posts(texts, "mixed"), "mixed 50 % non-English")
    return {"posts": count, "posts_per_s": round(count / seconds, 1),
            "detected_non_english": round(100 * float(np.mean([r.get("lang") not in ("en", None) for r in records])), 1)}


def eval_memes(pipeline: Pipeline, count: int) -> dict[str, Any]:
    from mmstream.render import image_to_b64, render_meme
    from mmstream.training.data import tweeteval_sentiment

    texts, y = tweeteval_sentiment("test")
    rng = np.random.default_rng(MEME_SEED)
    idx = rng.choice(len(texts), size=count, replace=False)
    texts, y = [texts[i] for i in idx], y[idx]
    plain, _ = _run(pipeline, _posts(texts, "plain"), "memes as text")
    raws = []
    for i, text in enumerate(texts):
        img = render_meme(text, seed=MEME_SEED + i, width=512)
        post: dict[str, Any] = {"id": f"meme-{i}", "created_at": 0, IMAGES: [{"b64": image_to_b64(img, "JPEG", 85)}]}
        if i % 2 == 0:
            post[TEXT] = CAPTIONS[i % len(CAPTIONS)]
        raws.append(json.dumps(post).encode())
    memes, seconds = _run(pipeline, raws, "memes as images")
    return {"count": count, "as_text": _sentiment_scores(y, _labels(plain)), "as_meme": _sentiment_scores(y, _labels(memes)),
            "meme_ms_per_post": round(1000 * seconds / count, 1), "with_neutral_caption": "every second meme"}


def eval_image_latency(pipeline: Pipeline, repeats: int = 15) -> dict[str, float]:
    from mmstream.render import image_to_b64, render_meme, render_scene

    def median_ms(make) -> float:
        times = []
        for i in range(repeats):
            raw = json.dumps({"id": f"l{i}", "created_at": 0, TEXT: "new post", IMAGES: [{"b64": make(i)}]}).encode()
            started = time.perf_counter()
            pipeline.process([(raw, None)])
            times.append(1000 * (time.perf_counter() - started))
        return round(statistics.median(times), 1)

    return {
        "meme_ms": median_ms(lambda i: image_to_b64(render_meme("worst customer service I have ever had", seed=i, width=512), "JPEG", 85)),
        "photo_ms": median_ms(lambda i: image_to_b64(render_scene(seed=i, width=640, height=480), "JPEG", 85)),
    }


#: the packages whose numerics a post's answers pass through: the same model answers differently in the second
#: decimal from one onnxruntime (or numpy, tokenizers, pillow) release to the next, so a report names them
RUNTIME_PACKAGES = ("onnxruntime", "tokenizers", "numpy", "pillow", "av", "ctranslate2")


def runtime_versions() -> dict[str, str]:
    """The installed version of each of :data:`RUNTIME_PACKAGES` (``"absent"`` when not installed) and Python's."""
    import platform
    from importlib import metadata

    found = {}
    for name in RUNTIME_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return {"python": platform.python_version(), **found}


def evaluate(settings: Settings, *, limit: int | None = None, memes: int = 300, media: int = 0,
             media_only: bool = False) -> dict[str, Any]:
    if media:  # the spoken set names brands of the bundled brands file (mmstream.evaluation.media)
        from mmstream.evaluation.media import eval_media, media_settings

        settings = media_settings(settings)
    pipeline = build_pipeline(settings)
    report: dict[str, Any] = {"model": pipeline.model.name, "runtime": runtime_versions()}
    if media:
        report["media"] = eval_media(pipeline, media)
        if media_only:
            return report
    report["sentiment_test"] = eval_sentiment(pipeline, limit)
    report["text_model_only"] = eval_text_model_speed(pipeline)
    report["topics_test_macro_f1"] = eval_topics(pipeline)
    if "complaint" in pipeline.model.tasks:
        report["complaints_test"] = eval_complaints(pipeline)
    if "emotion" in pipeline.model.tasks:
        report["emotion_test"] = eval_emotion(pipeline)
    if {"complaint", "emotion"} <= pipeline.model.tasks.keys():
        from mmstream.evaluation.text_readings import eval_text_readings

        report["texts_one_by_one"] = eval_text_readings(pipeline, limit)  # a caption beside a spoken complaint
    from mmstream.training.label_report import eval_labels  # issue 29: emotion none, categories, language

    report["labels"] = eval_labels(pipeline)
    if pipeline.model.uses("text_multilingual"):
        report["umsab_test"] = eval_umsab(pipeline)
        report["mixed_speed"] = eval_mixed_speed(pipeline)
    if IMAGES in pipeline.extractors and memes:  # a plugin reads the posts' images
        report["memes"] = eval_memes(pipeline, memes)
        report["image_latency"] = eval_image_latency(pipeline)
    return report


def format_table(report: dict[str, Any]) -> str:
    if "sentiment_test" not in report:  # --media-only
        from mmstream.evaluation.media import format_rows

        rows = [("model", report["model"]), *format_rows(report["media"])]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
    s = report["sentiment_test"]
    rows = [
        ("model", report["model"]),
        *([("runtime", " ".join(f"{k} {v}" for k, v in report["runtime"].items()))] if "runtime" in report else []),
        ("TweetEval sentiment test macro-recall", f"{s['macro_recall']:.2f}  (acc {s['accuracy']:.2f}, macro-F1 {s['macro_f1']:.2f}, n={s['posts']})"),
        ("whole pipeline (JSON, analytics enrichers)", f"{s['posts_per_s']:.0f} posts/s ({1000 / s['posts_per_s']:.2f} ms/post)"),
        ("text path, model only", f"{report['text_model_only']['posts_per_s']:.0f} posts/s "
                                  f"({report['text_model_only']['ms_per_post']:.2f} ms/post)"),
    ]
    for lang, f1 in report.get("topics_test_macro_f1", {}).items():
        rows.append((f"TweetTopicXL test macro-F1 [{lang}]", f"{f1:.2f}"))
    if "complaints_test" in report:
        c = report["complaints_test"]
        rows.append(("complaints test complaint-F1", f"{c['complaint_f1']:.2f}  (macro-F1 {c['macro_f1']:.2f}, n={c['posts']})"))
        rows.append(("complaints read as neutral / negative", f"{c['complaints_read_as_neutral']:.2f} % / {c['complaints_read_as_negative']:.2f} %"))
    if "emotion_test" in report:
        e = report["emotion_test"]
        rows.append(("TweetEval emotion test macro-F1", f"{e['macro_f1']:.2f}  (acc {e['accuracy']:.2f}, n={e['posts']})"))
    if "texts_one_by_one" in report:
        from mmstream.evaluation.text_readings import format_rows as reading_rows

        rows += reading_rows(report["texts_one_by_one"])
    if "umsab_test" in report:
        u = report["umsab_test"]
        for code, v in u.items():
            if code != "avg_macro_f1":
                rows.append((f"UMSAB test macro-F1 [{code}]", f"{v['macro_f1']:.2f}  (macro-recall {v['macro_recall']:.2f})"))
        rows.append(("UMSAB test macro-F1, average of 7", f"{u['avg_macro_f1']:.2f}"))
    if "mixed_speed" in report:
        m = report["mixed_speed"]
        rows.append(("whole pipeline, 50 % non-English", f"{m['posts_per_s']:.0f} posts/s ({m['detected_non_english']:.1f} % detected non-English)"))
    if "memes" in report:
        m = report["memes"]
        rows.append((f"memes (n={m['count']}) macro-recall", f"as image {m['as_meme']['macro_recall']:.2f} vs as text {m['as_text']['macro_recall']:.2f}"))
        lat = report["image_latency"]
        rows.append(("post with a meme / a photo", f"{lat['meme_ms']:.0f} ms / {lat['photo_ms']:.0f} ms model time (median)"))
    from mmstream.training.label_report import label_rows

    rows += label_rows(report)
    if "media" in report:
        from mmstream.evaluation.media import format_rows

        rows += format_rows(report["media"])
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
