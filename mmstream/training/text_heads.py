"""The heads ``mmstream train`` fits beside the fused sentiment head, each on the text reader's features: the
19 categories (TweetTopicXL, all four languages), complaint and emotion (:mod:`mmstream.training.tasks`), and
the multilingual heads (:mod:`mmstream.training.multilingual`)."""
from __future__ import annotations

import hashlib

import numpy as np

from mmstream.plugin.extractors import Extractor
from mmstream.training.data import TOPIC_LABELS, tweet_topics
from mmstream.training.extractors import TEXT_VIEWS, FeatureNames
from mmstream.training.features import cached, embed_in_chunks, file_digest
from mmstream.training.head import TopicHead, multilabel_macro_f1
from mmstream.training.topic_folds import ENGLISH_FIT

TOPIC_LANGS = ("en", "es", "gr", "ja")


def fit_topic_head(text_ex: Extractor, digest: str) -> tuple[TopicHead, dict]:
    # topics read the general-purpose embedding: the sentiment fine-tuning washes topic information out
    """The 19-label topic head on TweetTopicXL train (all languages), threshold
    on validation, macro-F1 per language on test."""
    def feats(split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        xs, ys, langs = [], [], []
        for lang in TOPIC_LANGS:
            texts, Y = tweet_topics(lang, split)
            xs.append(cached(f"topics-{lang}-{split}", [digest, str(len(texts)), f"bs{text_ex.batch_size}"],
                             lambda: text_ex.embed_texts(texts)))
            ys.append(Y)
            langs += [lang] * len(texts)
        return np.concatenate(xs), np.concatenate(ys), langs

    X_tr, Y_tr, _ = feats("train")
    X_va, Y_va, _ = feats("validation")
    X_te, Y_te, langs = feats("test")
    head = TopicHead.fit(X_tr, Y_tr, list(TOPIC_LABELS), X_val=X_va, Y_val=Y_va, **ENGLISH_FIT)
    pred = head.predict_proba(X_te) >= head.threshold
    langs_arr = np.array(langs)
    scores = {lang: round(100 * multilabel_macro_f1(Y_te[langs_arr == lang], pred[langs_arr == lang]), 2)
              for lang in TOPIC_LANGS}
    return head, scores


def task_heads(text_ex: Extractor, digests: dict[str, str], seed: int, hidden, complaint_extra: bool = False,
                praise: bool = False, only_complaint: bool = False, news: bool = False) -> list:
    """The complaint and emotion heads (:mod:`mmstream.training.tasks`) on both text views (the complaint
    head alone with ``only_complaint``)."""
    from mmstream.training.tasks import train_complaint_head, train_emotion_head

    def feats(name: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        said = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]  # an edited sentence is embedded again
        return tuple(cached(f"{name}-{view}", [digests[view], str(len(texts)), f"bs{text_ex.batch_size}", said],
                            lambda: embed_in_chunks(lambda t: text_ex.embed_texts(t, view), texts, f"{name} ({view})"))
                     for view in TEXT_VIEWS)

    heads = [train_complaint_head(feats, seed, hidden, extra=complaint_extra, praise=praise, news=news)]
    if not only_complaint:
        heads.append(train_emotion_head(feats, seed, hidden))
    for h in heads:
        print(f"{h.name} head: val {h.metrics['val']}, test {h.metrics['test']}", flush=True)
    return heads


def multilingual_heads(text_ex: Extractor, seed: int, names: "FeatureNames"):
    """Heads on the text reader's multilingual-e5 features (:mod:`mmstream.training.multilingual`)."""
    from mmstream.training.multilingual import train_multilingual

    digest = file_digest(text_ex.model_files()[names.text(names.own, "multilingual")])

    def feats(name: str, texts: list[str]) -> np.ndarray:
        return cached(f"ml-{name}", [digest, str(len(texts)), f"bs{text_ex.batch_size}"],
                      lambda: embed_in_chunks(lambda t: text_ex.embed_texts(t, "multilingual"), texts, f"{name} (multilingual)"))

    return train_multilingual(feats, seed)
