"""Text features: a unit-norm 384-d sentence embedding per post text.

The encoder is all-MiniLM-L6-v2 quantised to int8 (``model/encoder.onnx``,
built by ``python -m mmstream.training.export_text``); mean pooling and L2
normalisation are inside the graph. Values are tokenised together, sorted by
token count and run ``batch_size`` at a time (padded to the longest of each
batch); the default of one per run keeps a post's features independent of the
other posts in its micro-batch (see :data:`BATCH_SIZE`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tokenizers import Encoding, Tokenizer

from mmstream import Extraction, Extractor, PostError
from mmstream.errors import ConfigError
from mmstream.extractors import check_value_type
from mmstream.onnx import OnnxModel
from mmstream.post import check_unicode
from mmstream.settings import Settings

MODEL_DIR = Path(__file__).resolve().parent / "model"
#: Texts per ONNX run. 1, because the int8 model quantises activations with one
#: scale per tensor, computed at run time: in a batch, a text's embedding would
#: depend on its neighbours (up to 0.04 per component, cosine down to 0.95 vs
#: alone). Measured on 2 cores, in micro-batches of 16: 1.27 ms/post at 1,
#: 1.16 at 4, 1.28 at 8, 1.49 at 16; so determinism costs nothing there.
BATCH_SIZE = 1


class TextExtractor(Extractor):
    """Embeds ``text`` and ``image_text`` (text read from images by OCR)."""

    name = "text"
    modalities = ("text", "image_text")
    dims = {"text": 384, "image_text": 384}

    def __init__(self, settings: Settings, model_dir: Path = MODEL_DIR, batch_size: int = BATCH_SIZE) -> None:
        self.settings = settings
        self.model_dir = model_dir
        self.batch_size = batch_size
        self._model: OnnxModel | None = None
        self._tokenizer: Tokenizer | None = None

    def load(self) -> None:
        """Open the ONNX session and the tokenizer (truncating, not padding: see :meth:`_embed`)."""
        model = OnnxModel(self.model_dir / "encoder.onnx")
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128 tokens
        tokenizer.enable_truncation(max_length=int(model.config["max_length"]))
        if model.config.get("dim") != self.dims["text"]:
            raise ConfigError(
                f"{model.path} makes {model.config.get('dim')}-d embeddings, expected {self.dims['text']}; "
                "rebuild it with `python -m mmstream.training.export_text`"
            )
        _ = model.session  # open the session now, not on the first post
        self._model, self._tokenizer = model, tokenizer

    def validate(self, modality: str, value: Any) -> str:
        check_value_type(modality, value, str, "a string")
        if not value.strip():
            raise PostError("empty_text", f"'{modality}' is empty or only whitespace; send some text or omit the key.")
        check_unicode(modality, value)
        limit = self.settings.max_text_chars
        if len(value) > limit:
            raise PostError(
                "text_too_long",
                f"'{modality}' has {len(value)} characters, more than the limit of {limit}; "
                "shorten it or raise MMSTREAM_MAX_TEXT_CHARS.",
                "validate",
            )
        return value

    def extract(self, modality: str, values: Sequence[Any]) -> list[Extraction | Exception]:
        encodings = self._tokenize(values)
        vectors = iter(self._embed([e for e in encodings if isinstance(e, Encoding)]))
        results: list[Extraction | Exception] = []
        for value, encoding in zip(values, encodings):
            if isinstance(encoding, Encoding):
                report = {"chars": len(value), "tokens": len(encoding.ids)}
                results.append(Extraction(features=next(vectors), report=report))
            else:
                results.append(encoding)
        return results

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` as a float32 ``[len(texts), 384]`` array (for training code)."""
        encodings = []
        for encoding in self._tokenize(texts):
            if isinstance(encoding, PostError):
                raise encoding
            encodings.append(encoding)
        return self._embed(encodings)

    def _tokenize(self, values: Sequence[Any]) -> list[Encoding | PostError]:
        """Encodings in input order; a value the tokenizer rejects becomes a PostError."""
        if self._tokenizer is None:
            self.load()
        assert self._tokenizer is not None
        try:
            return list(self._tokenizer.encode_batch(list(values)))
        except Exception:  # find the offending value(s); the others still succeed
            return [self._tokenize_one(self._tokenizer, value) for value in values]

    def _tokenize_one(self, tokenizer: Tokenizer, value: Any) -> Encoding | PostError:
        try:
            return tokenizer.encode(value)
        except Exception as exc:
            return PostError("bad_text", f"the tokenizer rejected the value: {exc}", f"extract:{self.name}")

    def _embed(self, encodings: list[Encoding]) -> np.ndarray:
        """Run the encoder in length-sorted batches; rows come back in input order."""
        assert self._model is not None
        out = np.empty((len(encodings), self.dims["text"]), dtype=np.float32)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            attention_mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids = encodings[i].ids
                input_ids[r, : len(ids)] = ids
                attention_mask[r, : len(ids)] = 1
            out[rows] = self._model.run({"input_ids": input_ids, "attention_mask": attention_mask}, ["embedding"])[
                "embedding"
            ]
        return out
