"""Reading the shared data sets (never copied into the repo)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmstream.errors import ConfigError
from mmstream.settings import Settings

SENTIMENT_LABELS = ("negative", "neutral", "positive")
TOPIC_LABELS = (
    "arts_&_culture", "business_&_entrepreneurs", "celebrity_&_pop_culture", "diaries_&_daily_life", "family",
    "fashion_&_style", "film_tv_&_video", "fitness_&_health", "food_&_dining", "gaming", "learning_&_educational",
    "music", "news_&_social_concern", "other_hobbies", "relationships", "science_&_technology", "sports",
    "travel_&_adventure", "youth_&_student_life",
)


def data_dir(settings: Settings | None = None) -> Path:
    """``MMSTREAM_DATA`` (``Settings.data``), else ``../shared/data`` beside the checkout or the cwd."""
    candidates = []
    given = (settings or Settings.load()).data
    if given:
        candidates.append(Path(given))
    repo = Path(__file__).resolve().parents[2]
    candidates += [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    for path in candidates:
        if (path / "tweeteval").is_dir():
            return path
    raise ConfigError(
        "the training data folder is missing: expected ../shared/data beside the checkout "
        f"(looked in {', '.join(map(str, candidates))}); set MMSTREAM_DATA to its path"
    )


def tweeteval_sentiment(split: str) -> tuple[list[str], np.ndarray]:
    """(texts, labels) of a TweetEval sentiment split: train, val or test."""
    base = data_dir() / "tweeteval" / "sentiment"
    texts = (base / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
    labels = (base / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    texts = [t.strip() for t in texts[: len(labels)]]
    return texts, np.array([int(x) for x in labels], dtype=np.int64)


def tweet_topics(lang: str, split: str) -> tuple[list[str], np.ndarray]:
    """(texts, multi-hot [n, 19]) of TweetTopicXL for ``lang`` in en/es/gr/ja."""
    base = data_dir() / "tweet_topicxl" / lang
    path = next((p for p in sorted(base.glob(f"*{split}*")) if p.is_file()), None)
    if path is None:
        raise ConfigError(f"no {split} file for language {lang!r} under {base}")
    texts, rows = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            texts.append(obj["text"])
            rows.append([int(obj.get(label, 0)) for label in TOPIC_LABELS])
    return texts, np.array(rows, dtype=np.float32)


def macro_recall(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 3) -> float:
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(n_classes) if np.any(y_true == c)]
    return float(np.mean(recalls))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 3) -> float:
    scores = []
    for c in range(n_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))
