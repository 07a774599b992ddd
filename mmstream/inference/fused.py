"""The fused model: per-modality feature vectors plus presence masks in,
sentiment probabilities (and, when trained, topic scores) out. One ONNX file
with a ``config.json`` beside it naming the modalities, dims and labels."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from mmstream.errors import ConfigError
from mmstream.inference.onnx import OnnxModel

SENTIMENT_LABELS = ("negative", "neutral", "positive")
#: the emotion label of a post that expresses none (its text read, no emotion in it)
NO_EMOTION = "none"


def no_emotion(emotion: np.ndarray, sentiment: np.ndarray, rule: dict) -> np.ndarray | bool:
    """Whether a post expresses no emotion (rows of ``emotion`` and ``sentiment``, or one post): its
    neutral sentiment probability is ``neutral_at`` or more, or no emotion stands out (top probability
    under ``max_below``) while the post is not clearly negative or positive (both under ``polar_below``)."""
    emotion, sentiment = np.asarray(emotion), np.asarray(sentiment)
    polar = np.maximum(sentiment[..., 0], sentiment[..., 2])
    out = (sentiment[..., 1] >= rule["neutral_at"]) | (
        (emotion.max(-1) < rule["max_below"]) & (polar < rule.get("polar_below", 1.01)))
    return bool(out) if out.ndim == 0 else out


@dataclass
class Prediction:
    probs: np.ndarray  # [3] negative, neutral, positive
    topics: np.ndarray | None = None  # [n_topics] independent probabilities
    #: text-task outputs (``complaint``, ``emotion``): (labels, probabilities, threshold or None, the task's
    #: config[, the sentiment probabilities of the text they were read from]); None for a post without text
    #: (nothing to read a complaint or an emotion from)
    tasks: dict[str, tuple | None] = field(default_factory=dict)
    #: whether the model read anything of the post (features of at least one input): a post with only a
    #: plugin's report (or a voice note with no speech) has no opinion to give, and its sentiment is null
    evidence: bool = True
    #: per-category thresholds chosen on validation (``topic_thresholds`` in config.json; None: a category
    #: whose validated precision never reached the target, not shown); empty: one threshold for all
    topic_thresholds: dict[str, float | None] = field(default_factory=dict)

    def task_fields(self) -> dict:
        """Result fields of the text tasks: ``complaint`` {label: bool, prob} (label true at the
        model's threshold, chosen on validation) and ``emotion`` {label, probs}; null without text.
        The emotion is ``none`` where the task's ``none`` rule (chosen on validation,
        :mod:`mmstream.training.calibrate`) says no emotion is expressed (:func:`no_emotion`)."""
        out: dict = {}
        for name, task in self.tasks.items():
            if task is None:
                out[name] = None
                continue
            labels, probs, threshold = task[:3]
            # the sentiment the none rule reads: that of the text the emotion was read from, where one was chosen
            sentiment = task[4] if len(task) > 4 else self.probs
            if threshold is not None:  # binary: P(second label)
                prob = round(float(probs[1]), 6)
                out[name] = {"label": bool(prob >= threshold), "prob": prob}
            else:
                values = [round(float(p), 6) for p in probs]
                label = labels[int(np.argmax(probs))]
                none = (task[3] if len(task) > 3 else {}).get("none")
                if none and no_emotion(np.asarray(probs), sentiment, none):
                    label = NO_EMOTION
                out[name] = {"label": label, "probs": dict(zip(labels, values))}
        return out

    def sentiment(self) -> dict | None:
        """``{label, score, probs}``; None for a post the model read nothing of."""
        if not self.evidence:
            return None
        probs = [round(float(p), 6) for p in self.probs]
        # ties (a uniform answer) go to neutral
        label = "neutral" if np.ptp(self.probs) < 1e-6 else SENTIMENT_LABELS[int(np.argmax(self.probs))]
        return {
            "label": label,
            "score": round(probs[2] - probs[0], 6),
            "probs": dict(zip(SENTIMENT_LABELS, probs)),
        }


class FusedModel:
    """Loads ``model.onnx`` + ``config.json`` from a directory."""

    def __init__(self, model_dir: str | Path) -> None:
        self.dir = Path(model_dir)
        self.onnx = OnnxModel(self.dir / "model.onnx")
        cfg = self.onnx.config
        if "modalities" not in cfg:
            raise ConfigError(f"{self.dir / 'config.json'} lacks 'modalities'; rebuild the model with `mmstream train`")
        self.modalities: dict[str, int] = {k: int(v) for k, v in cfg["modalities"].items()}
        self.name = f"{cfg.get('name', 'fused')}@{cfg.get('version', '0')}"
        self.topic_labels: list[str] = list(cfg.get("topic_labels", []))
        #: probability at or above which a category applies (chosen on validation data in training)
        self.topic_threshold: float = float(cfg.get("topic_threshold") or 0.5)
        #: per-category thresholds chosen on validation for a precision target (mmstream.training.calibrate)
        self.topic_thresholds: dict[str, float | None] = dict(cfg.get("topic_thresholds") or {})
        #: text-task heads: name -> {"labels": [...], "threshold": t (binary heads)}
        self.tasks: dict[str, dict] = dict(cfg.get("tasks", {}))
        #: inputs that hold text (config.json "text_inputs", written by `mmstream train` from the plugins'
        #: text views): a post with any of them has text to read a complaint or an emotion from. A model
        #: trained before the key existed: the inputs its config says the text encoder made
        legacy = [m for m, kind in cfg.get("encoders", {}).items() if kind == "text"]
        self.text_inputs: tuple[str, ...] = tuple(m for m in cfg.get("text_inputs", legacy) if m in self.modalities)
        #: the input for text read or heard in a post's media; text views the model has no input of its own
        #: for (a plugin's new ``audio_text``, say) are folded into it until a model is trained with them
        self.derived_text_input: str | None = cfg.get("derived_text_input") or None
        #: each text base's inputs by view (``{"text": {"": "text", "_sentiment": "text_sentiment", ...},
        #: "audio_text": {...}}``), the post's own text first: what :meth:`predict` reads each text of a post as
        self.text_bases: dict[str, dict[str, str]] = text_bases(self.text_inputs)
        self.onnx.open()  # now: not on the first batch of posts (~40 ms, 37 MB)

    def predict(self, features: Sequence[dict[str, np.ndarray]]) -> list[Prediction]:
        """One dict of modality -> feature vector per post; modalities the model
        does not know are ignored, known ones that are missing are masked out.

        The text tasks (complaint, emotion) of a post with text read or heard in its media are also read
        from each of its texts as if it were a post's own text (extra rows of the same run): the complaint
        is the most complaining of those readings and of the graph's (which reads the mean of the texts), the
        emotion the most confident one that expresses an emotion. The graph's mean alone lets a two-word
        caption drown a spoken complaint (BENCHMARKS.md 'A post's texts read one by one')."""
        n = len(features)
        inputs: dict[str, np.ndarray] = {}
        for modality, dim in self.modalities.items():
            matrix = np.zeros((n, dim), dtype=np.float32)
            mask = np.zeros((n, 1), dtype=np.float32)
            for row, feats in enumerate(features):
                vec = feats.get(modality)
                if vec is not None:
                    if vec.shape != (dim,):
                        raise ValueError(f"modality {modality!r} gave shape {vec.shape}, the model expects ({dim},)")
                    matrix[row] = vec
                    mask[row, 0] = 1.0
            inputs[modality] = matrix
            inputs[f"{modality}_mask"] = mask
        readings = self._each_text_as_own(inputs, n) if self.tasks else []
        rows = inputs
        if readings:  # appended to the batch: one run of the graph all the same
            extra = _rows_alone(inputs, readings, self.text_bases)
            rows = {k: np.concatenate([inputs[k], extra[k]]) for k in inputs}
        out = self.onnx.run(rows)
        probs = out["sentiment"][:n]
        # a post with nothing the model reads (only a plugin's report) gets no opinion: sentiment null
        evidence = np.zeros(n, dtype=bool)
        for modality in self.modalities:
            evidence |= inputs[f"{modality}_mask"][:, 0] > 0
        probs[~evidence] = 1.0 / probs.shape[1]
        topics = out.get("topics")
        texts = np.zeros(n, dtype=bool)
        for modality in self.text_inputs:
            texts |= inputs[f"{modality}_mask"][:, 0] > 0
        predictions = [Prediction(probs[i], None if topics is None else topics[i], evidence=bool(evidence[i]),
                                  topic_thresholds=self.topic_thresholds) for i in range(n)]
        rows_of: dict[int, list[int]] = {}
        for r, (post, _) in enumerate(readings):
            rows_of.setdefault(post, []).append(n + r)
        for name, task in self.tasks.items():
            if name not in out:
                continue
            for i, p in enumerate(predictions):
                if not texts[i]:
                    p.tasks[name] = None
                    continue
                row = _chosen_reading(out[name], out["sentiment"], [i, *rows_of[i]], task) if i in rows_of else i
                p.tasks[name] = (task["labels"], out[name][row], task.get("threshold"), task, out["sentiment"][row])
        return predictions

    def _each_text_as_own(self, inputs: dict[str, np.ndarray], n: int) -> list[tuple[int, str]]:
        """(post, text base) for every text of every post that has text from its media: the readings
        :meth:`predict` adds. A post with its own text alone gets none (its answer is the graph's)."""
        if len(self.text_bases) < 2:
            return []
        own = next(iter(self.text_bases))
        present = {base: np.any([inputs[f"{m}_mask"][:, 0] > 0 for m in views.values()], axis=0)
                   for base, views in self.text_bases.items()}
        media = np.any([present[b] for b in self.text_bases if b != own], axis=0)
        return [(i, base) for i in np.flatnonzero(media) for base in self.text_bases if present[base][i]]

    def fold_text_views(self, features: dict[str, np.ndarray], views: Sequence[str]) -> dict[str, np.ndarray]:
        """``features`` with every text view the model has no input for folded into its derived-text
        input, view by view: ``audio_text_sentiment`` into ``image_text_sentiment``, and so on (the
        unit-norm embeddings of one input are summed and normalised again). Nothing changes for a post
        without such a view, nor for a model without ``derived_text_input``."""
        target = self.derived_text_input
        extra = [v for v in views if v != target and v not in self.modalities]
        if not target or not any(name == v or name.startswith(v + "_") for name in features for v in extra):
            return features
        out = dict(features)
        folded: set[str] = set()
        for view in extra:
            for name in [k for k in features if k == view or k.startswith(view + "_")]:
                slot = target + name[len(view):]
                if slot not in self.modalities:
                    continue
                vec = out.pop(name)
                if slot in out:
                    out[slot] = out[slot] + vec
                    folded.add(slot)
                else:
                    out[slot] = vec
        for slot in folded:
            norm = float(np.linalg.norm(out[slot]))
            if norm > 0:
                out[slot] = (out[slot] / norm).astype(np.float32)
        return out

    def uses(self, modality: str) -> bool:
        return modality in self.modalities


def text_bases(text_inputs: Sequence[str]) -> dict[str, dict[str, str]]:
    """Group text inputs by base: an input whose name extends another's by ``_view`` is that base's view
    (``image_text_sentiment`` of ``image_text``); the first base (the post's own text) first."""
    bases = [m for m in text_inputs if not any(m != b and m.startswith(b + "_") for b in text_inputs)]
    out: dict[str, dict[str, str]] = {}
    for base in bases:
        out[base] = {m[len(base):]: m for m in text_inputs
                     if m == base or (m.startswith(base + "_") and not any(
                         len(b) > len(base) and m.startswith(b + "_") for b in bases))}
    return out


def _rows_alone(inputs: dict[str, np.ndarray], readings: list[tuple[int, str]],
                bases: dict[str, dict[str, str]]) -> dict[str, np.ndarray]:
    """One row per reading (post, base): that text's features in the own text's inputs, nothing else present."""
    own = bases[next(iter(bases))]
    extra = {k: np.zeros((len(readings), v.shape[1]), np.float32) for k, v in inputs.items()}
    for r, (post, base) in enumerate(readings):
        for view, source in bases[base].items():
            target = own.get(view)
            if target is not None:
                extra[target][r] = inputs[source][post]
                extra[f"{target}_mask"][r] = inputs[f"{source}_mask"][post]
    return extra


def _chosen_reading(values: np.ndarray, sentiment: np.ndarray, rows: list[int], task: dict) -> int:
    """The row of ``rows`` (the graph's reading first) a task's answer comes from: a binary task's most
    probable positive; an emotion the most confident reading that expresses one (the graph's when none does)."""
    if len(rows) == 1:
        return rows[0]
    if task.get("threshold") is not None:
        return max(rows, key=lambda r: float(values[r][1]))
    none = task.get("none")
    if not none:
        return rows[0]
    expressed = [r for r in rows if not no_emotion(values[r], sentiment[r], none)]
    return max(expressed, key=lambda r: float(values[r].max())) if expressed else rows[0]
