"""``mmstream eval --media``: the pipeline on the spoken TweetEval set (:mod:`.spoken`), each tweet
through five carriers, all scored by the same pipeline the worker runs:

* ``text``: the tweet as a text post (the reference);
* ``said``: what is spoken and captioned, as a text post (what the carriers can at best give);
* ``audio``: the voice note; ``video``: the spoken video; ``captions``: the silent captioned clip.

Figures per carrier: sentiment macro-recall (and its difference to ``text``, with a seeded paired
bootstrap 90 % interval), the rate at which a brand named in the post is matched, the word error
rate of what was heard (transcript) or read (OCR) against what was said, and, posts run one at a
time, wall and CPU seconds per clip and the real-time factor (seconds of speech per wall second).
"""
from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmstream.errors import ConfigError
from mmstream.evaluation.spoken import BRANDS_FILE, SEED, Item, build
from mmstream.pipeline.batch import Pipeline
from mmstream.plugin.extractors import key_for_media
from mmstream.progress import Progress
from mmstream.settings import Settings

CARRIERS = ("text", "said", "audio", "video", "captions")
MEDIA = ("audio", "video", "captions")
LABELS = {"negative": 0, "neutral": 1, "positive": 2}


def words(text: str) -> list[str]:
    """Lower case; letters, digits and apostrophes: the words a WER counts."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word substitutions + deletions + insertions turning ``ref`` into ``hyp``."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def word_error_rate(refs: list[str], hyps: list[str]) -> float:
    """Corpus WER in %: all edits over all reference words."""
    errors = sum(edit_distance(words(r), words(h)) for r, h in zip(refs, hyps))
    return round(100 * errors / max(1, sum(len(words(r)) for r in refs)), 2)


def macro_recall(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y``, in % (a post with no label counts as wrong)."""
    return round(100 * float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)])), 2)


def paired_interval(y: np.ndarray, pred: np.ndarray, ref: np.ndarray, seed: int = SEED,
                    rounds: int = 1000) -> tuple[float, float]:
    """90 % interval of macro_recall(pred) - macro_recall(ref) over the same resampled posts."""
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(rounds):
        k = rng.integers(0, len(y), len(y))
        diffs.append(macro_recall(y[k], pred[k]) - macro_recall(y[k], ref[k]))
    low, high = np.percentile(diffs, [5, 95])
    return round(float(low), 2), round(float(high), 2)


def label(record: dict) -> int:
    return LABELS[record["sentiment"]["label"]] if record.get("sentiment") else -1


def heard(record: dict, carrier: str) -> str:
    """What the pipeline got out of the medium, from the plugins' reports whatever modality each sits under
    (a carrier's post has one medium): the transcript (a voice note's, or the sound a video hands on), or,
    for the silent captioned clip, the OCR text of its frames."""
    field = "ocr_text" if carrier == "captions" else "transcript"
    reports = (record.get("modalities") or {}).values()
    return next((r[field] for r in reports if isinstance(r, dict) and isinstance(r.get(field), str) and r[field]), "")


#: the posts schema's text field (schemas/posts.json)
TEXT = "text"
#: the media type of each carrier's file: its post key is the one whose extractor declares that type
#: (``Extractor.media_types``), so the eval names no plugin's modality
MEDIA_TYPES = {"audio": "audio/*", "video": "video/*", "captions": "video/*"}


def post(item: Item, carrier: str, folder: Path, extractors: dict) -> bytes:
    obj: dict[str, Any] = {"id": f"media-{carrier}-{item.index}", "created_at": 0}
    if carrier in (TEXT, "said"):
        obj[TEXT] = (item.text if carrier == TEXT else item.said) or "."
    else:
        key = key_for_media(extractors, MEDIA_TYPES[carrier])
        if key is None:
            raise ConfigError(f"no installed plugin reads {MEDIA_TYPES[carrier]} files (Extractor.media_types): "
                              "install the audio and video plugins (pip install -e plugins/audio -e plugins/video)")
        data = base64.b64encode((folder / getattr(item, carrier)).read_bytes()).decode("ascii")
        obj[key] = [{"b64": data}]
    return json.dumps(obj).encode()


Run = tuple[list[dict], list[float], list[float]]  # records, wall s and CPU s per post


def run(pipeline: Pipeline, items: list[Item], folder: Path, carrier: str) -> Run:
    """Every item as ``carrier``, one post at a time: (records, wall s, CPU s of this process per post)."""
    records, walls, cpus = [], [], []
    with Progress(f"media eval [{carrier}]", total=len(items), unit="posts") as progress:
        for item in items:
            raw = post(item, carrier, folder, pipeline.extractors)
            wall, cpu = time.perf_counter(), time.process_time()
            records.append(pipeline.process([(raw, None)])[0].record)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            progress.update(1)
    return records, walls, cpus


def warm_up(pipeline: Pipeline, item: Item, folder: Path) -> None:
    """Load what loads on first use (Whisper, OCR) before anything is timed."""
    for carrier in MEDIA:
        pipeline.process([(post(item, carrier, folder, pipeline.extractors), None)])


def figures(items: list[Item], runs: dict[str, Run]) -> dict[str, Any]:
    """The report from each carrier's run (pure: no pipeline)."""
    y = np.array([i.label for i in items])
    said = [i.said for i in items]
    speech = sum(i.seconds for i in items)
    branded = [k for k, i in enumerate(items) if i.brand]
    plain = [k for k, i in enumerate(items) if not i.brand]
    ref = np.array([label(r) for r in runs["text"][0]]) if "text" in runs else None
    out: dict[str, Any] = {"tweets": len(items), "speech_seconds": round(speech, 1), "branded": len(branded)}
    for carrier, (records, walls, cpus) in runs.items():
        pred = np.array([label(r) for r in records])
        row: dict[str, Any] = {
            "macro_recall": macro_recall(y, pred), "accuracy": round(100 * float(np.mean(pred == y)), 2),
            "dead_letters": sum(1 for r in records if "reason" in r),
            "brand_matched": round(100 * np.mean([items[k].brand in (records[k].get("brands") or [])
                                                   for k in branded]), 1) if branded else None,
            "brand_false": round(100 * np.mean([bool(records[k].get("brands")) for k in plain]), 1) if plain else None,
        }
        if ref is not None and carrier != "text":
            row["vs_text"] = round(row["macro_recall"] - macro_recall(y, ref), 2)
            row["vs_text_90"] = paired_interval(y, pred, ref)
        if carrier in MEDIA:
            row["wer"] = word_error_rate(said, [heard(r, carrier) for r in records])
            row["ms_per_clip"] = round(1000 * float(np.mean(walls)), 1)
            row["cpu_ms_per_clip"] = round(1000 * float(np.mean(cpus)), 1)
            if carrier != "captions":
                row["rtf"] = round(speech / sum(walls), 2)
        out[carrier] = row
    return out


def media_settings(settings: Settings) -> Settings:
    """The run's settings: the brands the set names (mmstream/samples/brands.toml)."""
    return settings.replace(brands_file=str(BRANDS_FILE))


def eval_media(pipeline: Pipeline, count: int, seed: int = SEED, root: Path | None = None,
               examples: int = 3, details: bool = True) -> dict[str, Any]:
    """Build (or reuse) the set of ``count`` tweets and measure every carrier on it. ``pipeline`` should
    match the set's brands (:func:`media_settings`) for the brand figures to mean anything."""
    folder, items = build(count, seed, root)
    warm_up(pipeline, items[0], folder)
    runs = {carrier: run(pipeline, items, folder, carrier) for carrier in CARRIERS}
    return report(folder, items, runs, examples, details)


def report(folder: Path, items: list[Item], runs: dict[str, Run], examples: int = 3,
           details: bool = True) -> dict[str, Any]:
    """:func:`figures`, the set's folder, a few examples of what was heard and read, and with ``details``
    ``posts``: each tweet's label, and per carrier its prediction, brands, seconds and what was heard or
    read (for finding out why a carrier scores lower)."""
    out = figures(items, runs)
    out["set"] = str(folder)
    media = [c for c in MEDIA if c in runs]
    out["examples"] = [{"said": i.said, "voice": f"{i.voice} {i.speed} wpm",
                        **{c: heard(runs[c][0][k], c) for c in media}} for k, i in enumerate(items[:examples])]
    if details:
        out["posts"] = [{"index": i.index, "label": i.label, "brand": i.brand, "voice": f"{i.voice} {i.speed}",
                         "seconds": i.seconds, "words": i.said,
                         **{c: {"pred": label(records[k]), "brands": records[k].get("brands"),
                                "wall": round(walls[k], 3), **({"heard": heard(records[k], c)} if c in MEDIA else {})}
                            for c, (records, walls, _) in runs.items()}} for k, i in enumerate(items)]
    return out


def format_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("spoken set", f"{m['tweets']} TweetEval test tweets, {m['speech_seconds']:.0f} s of speech, "
                           f"{m['branded']} addressed to a brand")]
    for carrier in CARRIERS:
        r = m.get(carrier)
        if r is None:
            continue
        line = f"{r['macro_recall']:.2f}"
        if "vs_text" in r:
            line += f" ({r['vs_text']:+.2f} vs text, 90 % {r['vs_text_90'][0]:+.1f}..{r['vs_text_90'][1]:+.1f})"
        if r["brand_matched"] is not None:
            line += f"; brand matched {r['brand_matched']:.0f} %"
        if "wer" in r:
            line += f"; WER {r['wer']:.1f} %; {r['ms_per_clip']:.0f} ms, CPU {r['cpu_ms_per_clip']:.0f} ms a clip"
        if "rtf" in r:
            line += f"; RTF {r['rtf']:.1f}x"
        rows.append((f"media [{carrier}] macro-recall", line))
    return rows


MEDIA_HEADING = "## Media: the spoken TweetEval set (`mmstream eval --media`)"


def _inputs_sentence(config: Path) -> str:
    """Which of the model's inputs transcripts and caption text reach (its config's ``training.media_texts``)."""
    import json

    try:
        media = json.loads(config.read_text()).get("training", {}).get("media_texts") or []
    except (OSError, ValueError):
        media = []
    if media:
        return (f"Transcripts and caption text reach inputs of their own ({', '.join(f'`{b}`' for b in media)}, "
                "trained with text features standing in).")
    return "The model has no input of its own for transcripts or caption text: they are folded into `image_text`."


def record_card(card: Path, m: dict[str, Any]) -> None:
    """Put the media figures into the model card as their own section, before the ``mmstream eval``
    section (which ``--update-card`` rewrites to the end of the file), replacing an earlier one."""
    from mmstream.training.card import EVAL_HEADING

    text = card.read_text() if card.is_file() else ""
    if MEDIA_HEADING in text:
        head, rest = text.split(MEDIA_HEADING, 1)
        nxt = rest.find("\n## ")
        text = head.rstrip() + "\n\n" + (rest[nxt + 1:] if nxt >= 0 else "")
    rows = format_rows(m)
    width = max(len(k) for k, _ in rows)
    table = "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
    section = (f"{MEDIA_HEADING}\n\nHeld-out TweetEval test tweets, each as text, as the words said (text), as a "
               f"voice note, as a spoken video and as a silent captioned clip, through the whole pipeline "
               f"(`mmstream eval --media {m['tweets']} --media-only --update-card`; `mmstream/evaluation/`). "
               f"{_inputs_sentence(card.parent / 'config.json')} Speech "
               f"loses what Whisper mishears, brand names first; what was found, and the timings' conditions: "
               f"BENCHMARKS.md, 'Media eval'.\n\n"
               f"```\n{table}\n```\n\n")
    if EVAL_HEADING in text:
        head, tail = text.split(EVAL_HEADING, 1)
        text = head.rstrip() + "\n\n" + section + EVAL_HEADING + tail
    else:
        text = text.rstrip() + "\n\n" + section
    card.write_text(text)
