"""The text plugin with its real int8 ONNX encoder, loaded through the plugin manager."""
from __future__ import annotations

import numpy as np
import pytest

from mmstream import Extraction, PostError
from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.settings import Settings
from mmstream_text import TextExtractor

MIXED = [
    "short",
    "a much longer post about a brand " * 30,
    "hi",
    "medium length tweet about coffee and mornings",
    "ok!",
    "another " * 12,
    "x",
    "The quick brown fox jumps over the lazy dog.",
    "🔥🔥🔥",
    "last one, in the middle of the pack",
    "b",
]


@pytest.fixture(scope="module")
def text():
    extractor = register_extractors(get_plugin_manager(), Settings.load(max_text_chars=2000))["text"]
    extractor.load()
    return extractor


def embed(text, values: list[str], modality: str = "text", view: str = "") -> np.ndarray:
    results = text.extract(modality, values)
    assert all(isinstance(r, Extraction) for r in results), results
    return np.stack([r.features[modality + view] for r in results])


def test_registered_for_text_and_reads_every_text_view(text):
    assert text.name == "text"
    assert set(text.modalities) == {"text"} and text.text_views == ("text",) and text.reads_text
    # the post's text, text read in images (the derived input), heard in voice notes and videos, read in video frames
    bases = ("text", "image_text", "audio_text", "video_audio_text", "video_text")
    assert list(text.dims)[:2] == ["text", "image_text"]
    assert text.dims == {f"{b}{view}": 384 for b in bases
                         for view in ("", "_sentiment", "_multilingual")}  # non-English texts: e5


def test_each_value_gets_a_general_and_a_sentiment_view(text):
    [result] = text.extract("image_text", ["I love this so much"])
    assert set(result.features) == {"image_text", "image_text_sentiment"}
    general, tuned = result.features["image_text"], result.features["image_text_sentiment"]
    assert general.shape == tuned.shape == (384,)
    assert abs(np.linalg.norm(tuned) - 1) < 1e-3 and float(general @ tuned) < 0.99  # two different encoders


def test_the_sentiment_view_separates_opinions_more_than_the_general_one(text):
    pos, neg = ["I love this phone, best purchase ever"], ["I hate this phone, worst purchase ever"]
    general = float(embed(text, pos)[0] @ embed(text, neg)[0])
    tuned = float(embed(text, pos, view="_sentiment")[0] @ embed(text, neg, view="_sentiment")[0])
    assert tuned < general


def test_embeddings_are_unit_norm_float32(text):
    vectors = embed(text, ["Loving the new phone!", "worst customer service ever", "ok"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_similar_sentences_are_closer_than_unrelated_ones(text):
    food, bread, stocks = embed(
        text, ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."]
    )
    assert food @ bread > 0.6
    assert food @ bread > food @ stocks + 0.4


def test_report_counts_chars_and_tokens(text):
    [result] = text.extract("image_text", ["SALE 50% OFF"])
    assert result.report["chars"] == 12
    assert 4 < result.report["tokens"] <= 128  # [CLS] ... [SEP]


def test_long_text_is_truncated_to_max_length(text):
    [result] = text.extract("text", ["word " * 1000])
    assert result.report["tokens"] == 128


def test_a_micro_batch_gives_each_post_its_own_features(text):
    """README (Results are idempotent): a post's values never depend on the other posts in its micro-batch,
    so a replay in another batch gives the same record, value for value: bit for bit, not close."""
    batched = embed(text, MIXED)
    tuned = embed(text, MIXED, view="_sentiment")
    for value, vector, sentiment in zip(MIXED, batched, tuned, strict=True):
        np.testing.assert_array_equal(vector, embed(text, [value])[0])
        np.testing.assert_array_equal(sentiment, embed(text, [value], view="_sentiment")[0])


def test_padded_batches_keep_input_order():
    # batches > 1 are padded and share int8 activation scales: close to, not equal to, one at a time
    batched = TextExtractor(Settings.load(), batch_size=4).embed_texts(MIXED)
    alone = embed_texts_one_by_one(MIXED)
    similarity = batched @ alone.T
    assert (similarity.argmax(axis=1) == np.arange(len(MIXED))).all()
    assert similarity.diagonal().min() > 0.9


def embed_texts_one_by_one(values: list[str]) -> np.ndarray:
    extractor = TextExtractor(Settings.load(), batch_size=1)
    return np.stack([extractor.embed_texts([v])[0] for v in values])


def test_embed_texts_matches_extract(text):
    values = ["first tweet", "second, somewhat longer tweet"]
    np.testing.assert_array_equal(text.embed_texts(values), embed(text, values))


def test_extract_of_nothing_is_nothing(text):
    assert text.extract("text", []) == []
    assert text.embed_texts([]).shape == (0, 384)


def test_a_value_the_tokenizer_rejects_fails_alone(text):
    good, bad = text.extract("text", ["fine text", 42])
    assert isinstance(good, Extraction)
    assert isinstance(bad, PostError) and bad.stage == "extract:text"


@pytest.mark.parametrize(
    ("value", "reason"),
    [(123, "wrong_type"), (None, "wrong_type"), (["a"], "wrong_type"), ("", "empty_text"), (" \n\t", "empty_text")],
)
def test_validate_rejects_unusable_values(text, value, reason):
    with pytest.raises(PostError) as info:
        text.validate("text", value)
    assert info.value.reason == reason and info.value.stage == "validate"


def test_validate_names_the_length_limit_and_its_setting(text):
    with pytest.raises(PostError) as info:
        text.validate("image_text", "a" * 2001)
    assert info.value.reason == "text_too_long"
    assert "2000" in info.value.detail and "MMSTREAM_MAX_TEXT_CHARS" in info.value.detail
    assert text.validate("text", "a" * 2000) == "a" * 2000


def test_the_sentiment_encoder_reads_each_text_behind_the_prefix_it_was_trained_with(text):
    """sentiment.json's ``prefix`` (the English e5-small-v2's "query: ") comes before every text the fine-tuned
    encoder reads, in extract and in embed_texts alike; the general encoder reads the text as it is."""
    from tokenizers import Tokenizer

    values = ["Pumpkin spice is back and I could not be happier!!", "my order never came"]
    prefix = text._sentiment.config.get("prefix", "")
    tokenizer = Tokenizer.from_file(str(text.model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=128)

    def run(model, value):
        ids = np.array([tokenizer.encode(value).ids], dtype=np.int64)
        return model.run({"input_ids": ids, "attention_mask": np.ones_like(ids)}, ["embedding"])["embedding"][0]

    tuned, general = embed(text, values, view="_sentiment"), embed(text, values)
    for value, t, g in zip(values, tuned, general):
        np.testing.assert_array_equal(t, run(text._sentiment, prefix + value))
        np.testing.assert_array_equal(g, run(text._model, value))
        if prefix:
            assert not np.array_equal(t, run(text._sentiment, value))
    np.testing.assert_array_equal(text.embed_texts(values, "sentiment"), tuned)


def test_the_sentiment_graph_is_quantised_as_its_config_says(text):
    """Every weight MatMul of ``sentiment.onnx`` is int8, except, when ``sentiment.json``'s quantisation says
    ``kept_fp32`` (``export_text --fp32-ffn-out``), each layer's feed-forward output projection, which stays fp32."""
    import onnx

    config = text._sentiment.config
    graph = onnx.load(str(text.model_dir / "sentiment.onnx")).graph
    weights = {i.name for i in graph.initializer}
    fp32 = sorted(n.name for n in graph.node if n.op_type == "MatMul" and set(n.input) & weights)
    int8 = [n.name for n in graph.node if n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul")]
    layers = int(config["layers"])
    if "kept_fp32" in config["quantization"]:
        assert fp32 == sorted(f"/layers.{i}/output/MatMul" for i in range(layers))
        assert len(int8) == 5 * layers  # query, key, value, attention out, intermediate
    else:
        assert fp32 == [] and len(int8) == 6 * layers
