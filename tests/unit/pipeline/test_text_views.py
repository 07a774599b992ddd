"""Derived text goes through the text path by declaration (Extractor.text_views), not by name.

A third-party plugin whose extractor derives a text view core has never heard of (``caption``) gets
that text's sentiment, complaint, emotion, language and brands, with no change under mmstream/:
the view is routed to the text reader, and the fused model folds it into its derived-text input.
"""
from __future__ import annotations

import json
import time
from typing import Any, Sequence

import numpy as np
import pytest

from mmstream.plugin import Extraction, Extractor, hookimpl
from mmstream.plugin.extractors import text_views


CAPTION = "Acme Air lost my bag again and nobody at the desk cares. Worst service ever."


class CaptionExtractor(Extractor):
    """Stands for a media plugin: reads a ``clip`` value (here, its caption as a string) and hands the
    caption on as the derived text view ``caption``; reports only, no features of its own."""

    name = "caption-probe"
    modalities = ("clip",)
    text_views = ("caption",)

    def extract(self, modality: str, values: Sequence[Any]) -> list[Extraction | Exception]:
        return [Extraction(report={"seconds": 3.0}, derived={"caption": v}) for v in values]


class CaptionPlugin:
    @hookimpl
    def register_extractors(self, settings):  # noqa: ARG002
        return [CaptionExtractor()]


@pytest.fixture(scope="module")
def pipeline():
    from mmstream.pipeline.build import build_pipeline
    from mmstream.settings import Settings

    # its own pipeline, not the session's: the test's caption plugin, no brands file
    return build_pipeline(Settings.load(brands_file=""), plugins=[CaptionPlugin()])


def score(pipeline, **post: Any) -> dict:
    raw = json.dumps({"id": "p", "created_at": int(time.time()), **post}).encode()
    [outcome] = pipeline.process([(raw, None)])
    assert outcome.kind == "result", outcome.record
    return outcome.record


def test_a_declared_text_view_is_routed_to_the_text_reader_own_text_first(pipeline):
    reader = pipeline.extractors["text"]
    assert reader.reads_text and pipeline.extractors["caption"] is reader and pipeline.extractors["image_text"] is reader
    assert pipeline.text_views[0] == "text" and {"image_text", "caption"} <= set(pipeline.text_views)
    assert text_views(pipeline.extractors) == pipeline.text_views


def test_text_a_plugin_derives_gets_what_the_same_text_gets_as_ocr_text(pipeline):
    """A caption-only post is scored as the same words read from an image would be (both feed the model's
    derived-text input), and its brands, language, complaint and emotion come from the caption."""
    heard = score(pipeline, clip=CAPTION)
    read = score(pipeline, image_text=CAPTION)
    assert heard["sentiment"] == read["sentiment"] and heard["sentiment"]["label"] == "negative"
    assert heard["complaint"] == read["complaint"] and heard["complaint"]["label"] is True
    assert heard["emotion"] == read["emotion"] and heard["emotion"] is not None
    assert heard["lang"] == "en" and heard["lang_source"] == "detected"
    assert heard["modalities"]["caption"]["lang"] == "en" and heard["modalities"]["clip"] == {"seconds": 3.0}


def test_derived_text_is_matched_to_brands(pipeline, tmp_path):
    from mmstream.pipeline.build import build_pipeline
    from mmstream.settings import Settings

    brands = tmp_path / "brands.toml"
    brands.write_text('[brands.acme]\naliases = ["acme air"]\n')
    # its own: the caption plugin and a brands file of the test's
    with_brands = build_pipeline(Settings.load(brands_file=str(brands)), plugins=[CaptionPlugin()])
    assert score(with_brands, clip=CAPTION)["brands"] == ["acme"]
    assert score(with_brands, clip="a quiet afternoon at the lake")["brands"] == []


def test_the_fold_into_the_derived_text_input(pipeline):
    model = pipeline.model
    unit = np.zeros(384, dtype=np.float32)
    unit[0] = 1.0
    other = np.zeros(384, dtype=np.float32)
    other[1] = 1.0
    views = ("text", "image_text", "caption")
    assert model.fold_text_views({"text": unit}, views) == {"text": unit}  # nothing to fold: the same dict
    folded = model.fold_text_views({"caption": unit, "caption_sentiment": other}, views)
    assert set(folded) == {"image_text", "image_text_sentiment"}
    both = model.fold_text_views({"image_text": unit, "caption": other}, views)
    np.testing.assert_allclose(both["image_text"], (unit + other) / np.sqrt(2), rtol=1e-6)
    assert model.fold_text_views({"caption": unit}, ("text",)) == {"caption": unit}  # not a text view: untouched


def test_a_post_the_model_reads_nothing_of_has_sentiment_null(pipeline):
    """Issue 32 item 3: a post with only a report (here a clip with no words: nothing derived) got
    "neutral" at 1/3 each; it has no opinion to give. It still gets a result, schema-valid."""
    from mmstream.schemas import validate

    silent = score(pipeline, clip="")
    assert silent["sentiment"] is None and silent["complaint"] is None and silent["emotion"] is None
    assert silent["modalities"] == {"clip": {"seconds": 3.0}}
    validate("enriched", silent)
    assert score(pipeline, clip="I love it")["sentiment"]["label"] == "positive"


def test_a_mention_without_sentiment_counts_as_a_mention_not_an_opinion():
    from mmstream.analytics.engine.events import Mention
    from mmstream.analytics.engine.windows import BrandAgg

    agg = BrandAgg()
    for i, (label, s) in enumerate([("negative", -0.8), (None, None), ("positive", 0.6)]):
        m = Mention(id=f"p{i}", t=1_700_000_000.0 + i, brands=["acme"], label=label, score=s, topics=[])
        again = Mention.from_json(m.to_json())
        assert (again.label, again.score) == (label, s)
        agg.add(again)
    assert agg.posts == 3 and agg.labels == {"negative": 1, "neutral": 0, "positive": 1}
    assert agg.mean_score == pytest.approx(-0.1)


def test_a_value_handed_to_a_modality_no_plugin_reads_is_left_unread_and_said_so(pipeline):
    """With a plugin disabled on purpose (the audio plugin, say), a video that hands its sound on must not
    be dead-lettered: it keeps what the other plugins read, and its report names what nobody read."""
    from mmstream.plugin import Extraction

    extractor = pipeline.extractors["clip"]
    original = extractor.extract
    extractor.extract = lambda modality, values: [
        Extraction(report={"seconds": 3.0}, derived={"caption": v, "nobody-reads-this": b"x"}) for v in values]
    try:
        record = score(pipeline, clip=CAPTION)
    finally:
        extractor.extract = original
    assert record["modalities"]["clip"] == {"seconds": 3.0, "not_read": ["nobody-reads-this"]}
    assert record["sentiment"]["label"] == "negative"
