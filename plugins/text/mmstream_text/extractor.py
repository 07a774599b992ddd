"""Text features: two unit-norm 384-d sentence embeddings per post text.

``<modality>``: all-MiniLM-L6-v2 as pretrained, quantised to int8
(``model/encoder.onnx``), the general-purpose view topics and clustering use;
``<modality>_sentiment``: an encoder fine-tuned on TweetEval sentiment train
(``model/sentiment.onnx``: the English e5-small-v2, 12 layers, ``mmstream train
--finetune-epochs 1``), on the same tokenizer, each text behind the prefix its
``sentiment.json`` names (``"query: "``). Both are built by ``python -m
mmstream.training.export_text``; mean pooling and L2 normalisation are inside the graphs. Each text's language is detected offline
(:mod:`mmstream_text.lang`, reported as ``lang``); with ``model/multilingual.onnx``
(multilingual-e5-small int8, ``python -m mmstream.training.export_e5``) a text in
another language than English gets ``<modality>_multilingual`` from it instead of
the two English views. Values are tokenised together, sorted by
token count and run ``batch_size`` at a time (padded to the longest of each
batch); the default of one per run keeps a post's features independent of the
other posts in its micro-batch (see :data:`BATCH_SIZE`).
"""
from __future__ import annotations

import gzip
import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tokenizers import Encoding, Tokenizer

from mmstream.plugin import (ConfigError, Extraction, Extractor, OnnxModel, PostError, Settings, check_unicode,
                             check_value_type)
from mmstream_text import lang

MODEL_DIR = Path(__file__).resolve().parent / "model"
#: Texts per ONNX run. 1, because the int8 model quantises activations with one
#: scale per tensor, computed at run time: in a batch, a text's embedding would
#: depend on its neighbours (up to 0.04 per component, cosine down to 0.95 vs
#: alone). Measured on 2 cores, in micro-batches of 16: 1.27 ms/post at 1,
#: 1.16 at 4, 1.28 at 8, 1.49 at 16; so determinism costs nothing there.
BATCH_SIZE = 1


class TextExtractor(Extractor):
    """Embeds ``text``, and every text view another plugin derives (``image_text`` read from images by
    OCR, ``audio_text`` heard in voice notes ...): mmstream routes those here (``reads_text``)."""

    name = "text"
    modalities = ("text",)
    text_views = ("text",)
    reads_text = True
    #: ``<modality>`` is the general-purpose embedding (topics, clustering); ``<modality>_sentiment``
    #: the same text through the encoder fine-tuned on tweet sentiment (``model/sentiment.onnx``)
    #: ``image_text`` first: the fused model's derived-text input; then the text heard in voice notes and in
    #: videos' sound and read in video frames (the audio and image plugins' text views), inputs of their own
    #: in a model trained with them (``mmstream train``: text features stand in for them)
    dims = {"text": 384, "image_text": 384, "text_sentiment": 384, "image_text_sentiment": 384,
            "audio_text": 384, "audio_text_sentiment": 384, "video_audio_text": 384,
            "video_audio_text_sentiment": 384, "video_text": 384, "video_text_sentiment": 384}
    #: with ``model/multilingual.onnx`` (multilingual-e5-small int8, ``python -m mmstream.training.export_e5``):
    #: a text detected in another language than English gets ``<modality>_multilingual`` instead of the two above
    MULTILINGUAL_DIMS = {"text_multilingual": 384, "image_text_multilingual": 384, "audio_text_multilingual": 384,
                         "video_audio_text_multilingual": 384, "video_text_multilingual": 384}

    def __init__(self, settings: Settings, model_dir: Path = MODEL_DIR, batch_size: int = BATCH_SIZE) -> None:
        self.settings = settings
        if model_dir == MODEL_DIR and settings.plugin(self.name).get("model_dir"):
            model_dir = Path(settings.plugin(self.name)["model_dir"])  # MMSTREAM_PLUGIN_TEXT_MODEL_DIR
        self.model_dir = model_dir
        self.batch_size = batch_size
        self._model: OnnxModel | None = None
        self._sentiment: OnnxModel | None = None
        self._tokenizer: Tokenizer | None = None
        self._multilingual: OnnxModel | None = None
        self._ml_tokenizer: Tokenizer | None = None
        self._ml_prefix = ""
        self._sentiment_prefix = ""
        if (model_dir / "multilingual.onnx").is_file():
            self.dims = {**self.dims, **self.MULTILINGUAL_DIMS}
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-text")

    def model_files(self) -> dict[str, Path]:
        """The encoder file of each feature of a post's own text (``text``: the general encoder, ``text_sentiment``,
        ``text_multilingual`` when shipped; the other text views go through the same files), the
        ``tokenizer``, the encoders' ``config`` (``max_length``) and the language detection's
        ``english_words`` (written by ``mmstream.training.english_words``)."""
        own = self.text_views[0]
        files = {own: self.model_dir / "encoder.onnx", f"{own}_sentiment": self.model_dir / "sentiment.onnx"}
        if f"{own}_multilingual" in self.dims:
            files[f"{own}_multilingual"] = self.model_dir / "multilingual.onnx"
        return {**files, "tokenizer": self.model_dir / "tokenizer.json", "config": self.model_dir / "config.json",
                "english_words": lang.WORDS_FILE}

    def load(self) -> None:
        """Open the ONNX sessions and the tokenizers (truncating, not padding: see :meth:`_embed`).

        Largest passing peak first: the language model, then the multilingual session (ONNX
        Runtime holds the 60 MB file while it builds the session, ~24 MB above what it keeps),
        then the two English encoders: a worker's peak resident size is its start-up peak or later."""
        lang.load()
        if "text_multilingual" in self.dims:
            multilingual = OnnxModel(self.model_dir / "multilingual.onnx", config_name="multilingual.json").open()
            with gzip.open(self.model_dir / "multilingual_tokenizer.json.gz", "rb") as fh:
                # ~100k pieces (mmstream.training.vocab); from bytes: as a str it peaked 17 MB higher
                ml_tokenizer = Tokenizer.from_buffer(fh.read())
            ml_tokenizer.no_padding()
            ml_tokenizer.enable_truncation(max_length=int(multilingual.config["max_length"]))
            self._multilingual, self._ml_tokenizer = multilingual, ml_tokenizer
            self._ml_prefix = str(multilingual.config.get("prefix", ""))
        model = OnnxModel(self.model_dir / "encoder.onnx")
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128 tokens
        tokenizer.enable_truncation(max_length=int(model.config["max_length"]))
        if model.config.get("dim") != self.dims["text"]:
            raise ConfigError(
                f"{model.path} makes {model.config.get('dim')}-d embeddings, expected {self.dims['text']}; "
                "rebuild it with `python -m mmstream.training.export_text`"
            )
        sentiment = OnnxModel(self.model_dir / "sentiment.onnx", config_name="sentiment.json")
        if sentiment.config.get("max_length") != model.config["max_length"]:
            raise ConfigError(f"{sentiment.path} and {model.path} disagree on max_length; re-export both")
        model.open()  # the sessions now, not on the first post
        sentiment.open()
        self._model, self._sentiment, self._tokenizer = model, sentiment, tokenizer
        # an encoder trained with a prefix (the English e5-small-v2's "query: ") gets it before each text
        self._sentiment_prefix = str(sentiment.config.get("prefix", ""))

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
        found = [lang.identify(v) if isinstance(v, str) else (None, None) for v in values]
        langs = [code for code, _ in found]
        # an undetermined text goes where its likeliest language would
        other = [self._multilingual is not None and lang.is_other_language(v, guess)
                 for v, (_, guess) in zip(values, found)]
        encodings = self._tokenize(values)
        ml_encodings = iter(self._tokenize([self._ml_prefix + v for v, o in zip(values, other) if o], multilingual=True))
        ml_of = [next(ml_encodings) if o else None for o in other]
        for i, e in enumerate(ml_of):
            if e is not None and not isinstance(e, Encoding):
                encodings[i] = e  # the multilingual tokenizer rejected it: the value fails
        good = [i for i, e in enumerate(encodings) if isinstance(e, Encoding)]
        tuned_encs = self._sentiment_encodings([values[i] for i in good if not other[i]],
                                               [encodings[i] for i in good if not other[i]])
        general, tuned, ml = self._embed_views([encodings[i] for i in good], [not other[i] for i in good],
                                               [ml_of[i] for i in good if other[i]], tuned_encs)
        general, tuned, ml = iter(general), iter(tuned), iter(ml)
        results: list[Extraction | Exception] = []
        for value, code, is_other, encoding in zip(values, langs, other, encodings):
            if not isinstance(encoding, Encoding):
                results.append(encoding)
                continue
            report = {"chars": len(value), "tokens": len(encoding.ids), "lang": code}
            # every text gets the general view (topics and clustering read one space in every language);
            # an English one the sentiment view too, any other the multilingual view instead
            features = {modality: next(general)}
            if is_other:
                features[f"{modality}_multilingual"] = next(ml)
            else:
                features[f"{modality}_sentiment"] = next(tuned)
            results.append(Extraction(features=features, report=report))
        return results

    def _sentiment_encodings(self, values: Sequence[str], encodings: list[Encoding]) -> list[Encoding]:
        """What the fine-tuned encoder reads of ``values``: their ``encodings``, or, when it was trained
        with a prefix, the values tokenised again behind it (the tokenizer took them once: it takes them)."""
        if not self._sentiment_prefix:
            return encodings
        assert self._tokenizer is not None
        return list(self._tokenizer.encode_batch([self._sentiment_prefix + v for v in values]))

    def _embed_views(self, encodings: list[Encoding], english: Sequence[bool] | None = None,
                     ml_encodings: Sequence[Encoding] = (),
                     tuned_encodings: Sequence[Encoding] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The general encoder over ``encodings``, the fine-tuned one over those that
        are ``english`` (all by default; ``tuned_encodings``, when given, are what it reads of them),
        the multilingual one over ``ml_encodings``;
        the rows of each output follow its inputs (``tuned`` has one per English text).

        Two threads (this one and the plugin's side thread; onnxruntime releases
        the GIL) take runs from one queue, longest texts first. A fixed split,
        one encoder per thread, left a core idle whenever the event loop or the
        broker took the other one: the batch waited for the thread that lost its
        core. Which thread runs a text does not change its embedding.
        """
        assert self._model is not None and self._sentiment is not None
        english = [True] * len(encodings) if english is None else list(english)
        tuned_encs = ([e for e, en in zip(encodings, english) if en] if tuned_encodings is None
                      else list(tuned_encodings))
        general = np.empty((len(encodings), self.dims["text"]), dtype=np.float32)
        tuned = np.empty((len(tuned_encs), self.dims["text"]), dtype=np.float32)
        ml = np.empty((len(ml_encodings), self.dims["text"]), dtype=np.float32)

        def chunked(encs: Sequence[Encoding]) -> list[list[int]]:
            order = sorted(range(len(encs)), key=lambda i: -len(encs[i].ids))
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

        runs = [(self._multilingual, ml, [i], ml_encodings) for i in range(len(ml_encodings))]  # the slow ones first
        runs += [(self._model, general, rows, encodings) for rows in chunked(encodings)]
        runs += [(self._sentiment, tuned, rows, tuned_encs) for rows in chunked(tuned_encs)]
        taken = itertools.count()

        def drain() -> None:
            while (k := next(taken)) < len(runs):
                model, out, rows, encs = runs[k]
                out[rows] = self._run(model, encs, rows)

        side = self._side.submit(drain)
        try:
            drain()
        finally:
            side.result()  # the side thread's runs are done (and its error, if any, raised)
        return general, tuned, ml

    def embed_texts(self, texts: list[str], view: str = "general") -> np.ndarray:
        """Embeddings of ``texts`` as a float32 ``[len(texts), 384]`` array (for training and
        evaluation code): the ``general`` encoder's, or the ``sentiment`` fine-tuned one's."""
        encodings = []
        multilingual = view == "multilingual"
        if self._tokenizer is None:
            self.load()
        prefix = {"multilingual": self._ml_prefix, "sentiment": self._sentiment_prefix}.get(view, "")
        for encoding in self._tokenize([prefix + t for t in texts], multilingual):
            if isinstance(encoding, PostError):
                raise encoding
            encodings.append(encoding)
        model = {"general": self._model, "sentiment": self._sentiment, "multilingual": self._multilingual}[view]
        assert model is not None
        return self._embed(encodings, model)

    def _tokenize(self, values: Sequence[Any], multilingual: bool = False) -> list[Encoding | PostError]:
        """Encodings in input order; a value the tokenizer rejects becomes a PostError."""
        if self._tokenizer is None:
            self.load()
        if not values:
            return []
        tokenizer = self._ml_tokenizer if multilingual else self._tokenizer
        assert tokenizer is not None
        try:
            return list(tokenizer.encode_batch(list(values)))
        except Exception:  # find the offending value(s); the others still succeed
            return [self._tokenize_one(tokenizer, value) for value in values]

    def _tokenize_one(self, tokenizer: Tokenizer, value: Any) -> Encoding | PostError:
        try:
            return tokenizer.encode(value)
        except Exception as exc:
            return PostError("bad_text", f"the tokenizer rejected the value: {exc}", f"extract:{self.name}")

    def _embed(self, encodings: list[Encoding], model: OnnxModel) -> np.ndarray:
        """Run ``model`` in length-sorted batches; rows come back in input order."""
        out = np.empty((len(encodings), self.dims["text"]), dtype=np.float32)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run(model, encodings, rows)
        return out

    @staticmethod
    def _run(model: OnnxModel, encodings: list[Encoding], rows: list[int]) -> np.ndarray:
        """Embeddings of ``encodings[rows]``, padded to the longest of them."""
        width = max(len(encodings[i].ids) for i in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        attention_mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            ids = encodings[i].ids
            input_ids[r, : len(ids)] = ids
            attention_mask[r, : len(ids)] = 1
        return model.run({"input_ids": input_ids, "attention_mask": attention_mask}, ["embedding"])["embedding"]
