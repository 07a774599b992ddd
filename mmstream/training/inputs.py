"""What ``mmstream train`` reads: the plugins' extractors, loaded as the worker loads them, and the features of
each labelled set (TweetEval sentiment, the brand-directed complaints, plugins' own features, tweets rendered as
memes) through the feature cache (:mod:`mmstream.training.features`)."""
from __future__ import annotations

import numpy as np

from mmstream.plugin.extractors import Extractor
from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.settings import Settings
from mmstream.training.data import tweeteval_sentiment
from mmstream.training.extractors import TEXT_VIEWS, FeatureNames
from mmstream.training.features import cached, embed_in_chunks

SPLITS = ("train", "val", "test")


def loaded_extractors(settings: Settings) -> dict[str, Extractor]:
    extractors = register_extractors(get_plugin_manager(), settings)
    for extractor in {id(e): e for e in extractors.values()}.values():
        extractor.load()
    return extractors


def sentiment_split(split: str, limit: int | None) -> tuple[list[str], np.ndarray]:
    texts, y = tweeteval_sentiment(split)
    return (texts[:limit], y[:limit]) if limit else (texts, y)


def split_features(text_ex: Extractor, digests: dict[str, str], split: str, limit: int | None = None
                   ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One TweetEval sentiment split: ({view: [n, 384] embeddings}, labels), through the feature cache."""
    texts, y = sentiment_split(split, limit)
    X = {view: cached(f"sentiment-{split}-{view}", [digests[view], str(len(texts)), f"bs{text_ex.batch_size}"],
                      lambda: embed_in_chunks(lambda t: text_ex.embed_texts(t, view), texts, f"encoding {split} ({view})"))
         for view in TEXT_VIEWS}
    return X, y


def text_features(text_ex: Extractor, digests: dict[str, str], limit: int | None
                  ) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """Per split: ({view: [n, 384] embeddings}, labels)."""
    return {split: split_features(text_ex, digests, split, limit) for split in SPLITS}


def custom_features(extractors: dict[str, Extractor], limit: int | None,
                     names: FeatureNames) -> dict[str, dict[str, tuple]]:
    """{feature: {split: (values [n, dim] with NaN as 0, present mask [n])}} for plugin features
    outside the built-ins whose extractor implements ``training_features``."""
    out: dict[str, dict[str, tuple]] = {}
    for ex in {id(e): e for e in extractors.values()}.values():
        for name, dim in ex.dims.items():
            if not dim or name in names.built_in or name in names.multilingual:
                continue
            per_split = {}
            for split in SPLITS:
                texts, _ = sentiment_split(split, limit)
                values = ex.training_features(name, texts)
                if values is None:
                    break
                values = np.asarray(values, dtype=np.float32).reshape(len(texts), dim)
                present = ~np.isnan(values).any(axis=1)
                per_split[split] = (np.nan_to_num(values), present.astype(np.float32))
            if len(per_split) == 3:
                out[name] = per_split
                print(f"custom feature {name!r} ({dim}-d) from plugin {ex.name!r}: present in "
                      f"{int(per_split['train'][1].sum())} of {len(per_split['train'][1])} train tweets", flush=True)
            else:
                print(f"feature {name!r} of plugin {ex.name!r} has no training_features(): left out of the model", flush=True)
    return out


def brand_sets(text_ex: Extractor, digests: dict[str, str], seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Brand-directed complaints (label 1 of the complaints data: tweets to or about brands in nine
    domains), per part of its seeded split: (general, sentiment) embeddings. The train part's join
    sentiment training as negatives; val and test measure how many come out neutral."""
    from mmstream.training.tasks import complaint_split, complaints

    texts, y, _ = complaints()
    views = [cached(f"complaints-{view}", [digests[view], str(len(texts)), f"bs{text_ex.batch_size}"],
                    lambda: embed_in_chunks(lambda t: text_ex.embed_texts(t, view), texts, f"complaints ({view})"))
             for view in TEXT_VIEWS]
    part = complaint_split(y, seed)
    return {name: tuple(v[(part == p) & (y == 1)] for v in views) for name, p in (("train", 0), ("val", 1), ("test", 2))}


def meme_image_features(image_ex: Extractor, texts: list[str], idx: np.ndarray, seed: int) -> np.ndarray:
    """Image-encoder features of tweets rendered as memes (the image branch's view)."""
    from mmstream.progress import Progress
    from mmstream.render import render_meme

    out = []
    with Progress("rendering memes", total=len(idx), unit="memes") as progress:
        for start in range(0, len(idx), 32):
            part = idx[start:start + 32]
            images = [render_meme(texts[i], seed=seed * 100_003 + int(i), width=384) for i in part]
            out.append(image_ex.embed_images(images))
            progress.update(len(part))
    return np.concatenate(out, axis=0)
