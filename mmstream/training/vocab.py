"""Trim the multilingual encoder's vocabulary to the pieces its posts use.

multilingual-e5-small carries XLM-R's 250,002 SentencePiece pieces. In a worker
they cost ~220 MB for the tokenizer's Unigram structures and 96 MB for the
int8 embedding rows, most of it for pieces no post here ever produces. The
trimmed vocabulary keeps

* the special pieces (``<s> <pad> </s> <unk>``, ``<mask>``);
* every piece the full tokenizer makes of the train and validation texts of
  ``../shared/data`` (TweetEval, UMSAB's seven languages, TweetTopicXL's four,
  the complaints' train and validation parts; never a test split);
* every one-character piece (with or without the word-start mark), so any text
  in those scripts still tokenises, into shorter pieces where needed;
* every piece written in the non-Latin scripts of those languages
  (:data:`SCRIPTS`: Greek, Arabic, Devanagari, Japanese; 48k pieces), so their
  texts always tokenise as with the full vocabulary;
* the ``top`` most likely pieces of the rest (by the Unigram model's own
  scores), for words of other texts.

A text whose full-vocabulary pieces are all kept tokenises exactly as before
(the Unigram model's best segmentation is still there and nothing better was
added), so it gets the same ids, remapped, and the same embedding rows: the
same features to the last bit. Every train and validation text is such a
text, so heads trained on the full vocabulary's features stay valid; test
texts are the honest measure of what trimming changes (``mmstream eval``).

    python -m mmstream.training.vocab [--model-dir plugins/text/mmstream_text/model] [--top 20000]
"""
from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Iterable

import numpy as np

#: how many of the most likely other pieces are kept (see the module's text)
TOP = 20_000
#: scripts (first word of a character's Unicode name) whose pieces are all kept: those of the
#: non-Latin languages in ../shared/data (el; ar; hi; ja: kanji, hiragana, katakana) and digits
SCRIPTS = frozenset({"GREEK", "ARABIC", "DEVANAGARI", "CJK", "HIRAGANA", "KATAKANA", "DIGIT"})
#: the int8 word-embedding rows in the exported graph (``export_e5``; quantised per tensor)
EMBEDDING = "emb.word_quantized"
TOKENIZER_FILE = "multilingual_tokenizer.json.gz"
MODEL_FILE = "multilingual.onnx"
CONFIG_FILE = "multilingual.json"


def corpus() -> list[str]:
    """The train and validation texts of every data set under ``../shared/data``."""
    from mmstream.training.data import tweet_topics, tweeteval_sentiment
    from mmstream.training.multilingual import UMSAB_LANGS, umsab
    from mmstream.training.tasks import complaint_split, complaints, tweeteval_emotion

    texts: list[str] = []
    for split in ("train", "val"):
        texts += tweeteval_sentiment(split)[0] + tweeteval_emotion(split)[0]
        texts += [t for folder in UMSAB_LANGS for t in umsab(folder, split)[0]]
        texts += [t for lang in ("en", "es", "gr", "ja") for t in tweet_topics(lang, "validation" if split == "val" else split)[0]]
    all_texts, labels, _ = complaints()
    part = complaint_split(labels)
    return texts + [t for t, p in zip(all_texts, part) if p in (0, 1)]


def kept_ids(spec: dict, texts: Iterable[str], prefix: str = "", top: int = TOP) -> list[int]:
    """Old ids of the pieces to keep, ascending (special pieces first, as in the full vocabulary)."""
    from tokenizers import Tokenizer

    vocab = spec["model"]["vocab"]
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    tokenizer.no_truncation()
    used: set[int] = set()
    for encoding in tokenizer.encode_batch([prefix + t for t in texts]):
        used.update(encoding.ids)
    special = {a["id"] for a in spec.get("added_tokens", [])} | {int(spec["model"]["unk_id"])}
    single = {i for i, (piece, _) in enumerate(vocab) if len(piece.removeprefix("\u2581")) <= 1}
    scripts = {i for i, (piece, _) in enumerate(vocab) if _in_scripts(piece)}
    order = sorted((i for i in range(len(vocab)) if i not in special), key=lambda i: -vocab[i][1])
    return sorted(special | used | single | scripts | set(order[:top]))


def _in_scripts(piece: str) -> bool:
    import unicodedata

    letters = piece.replace("\u2581", "")
    return bool(letters) and all(unicodedata.name(ch, "?").split()[0] in SCRIPTS for ch in letters)


def trim_tokenizer(spec: dict, keep: list[int]) -> dict:
    """The tokenizer spec (``tokenizer.json`` as a dict) with only the ``keep`` pieces, ids renumbered."""
    new_id = {old: new for new, old in enumerate(keep)}
    out = json.loads(json.dumps(spec))
    out["model"]["vocab"] = [spec["model"]["vocab"][i] for i in keep]
    out["model"]["unk_id"] = new_id[int(spec["model"]["unk_id"])]
    for token in out.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    processor = out.get("post_processor") or {}
    for special in (processor.get("special_tokens") or {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return out


def trim_model(model, keep: list[int]):
    """The ONNX model (``onnx.ModelProto``, changed in place) with only the ``keep`` embedding rows."""
    from onnx import numpy_helper

    for i, init in enumerate(model.graph.initializer):
        if init.name == EMBEDDING:
            rows = numpy_helper.to_array(init)
            if max(keep) >= rows.shape[0]:
                raise ValueError(f"{EMBEDDING} has {rows.shape[0]} rows; piece id {max(keep)} is beyond them")
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(rows[keep]), EMBEDDING))
            return model
    raise ValueError(f"the model has no initializer {EMBEDDING}; was it made by mmstream.training.export_e5?")


def trim(model_dir: Path, texts: list[str], top: int = TOP) -> dict:
    """Trim the multilingual model in ``model_dir`` (its ONNX file, tokenizer and config) in place."""
    import onnx

    config = json.loads((model_dir / CONFIG_FILE).read_text())
    with gzip.open(model_dir / TOKENIZER_FILE, "rt", encoding="utf-8") as fh:
        spec = json.load(fh)
    before = len(spec["model"]["vocab"])
    keep = kept_ids(spec, texts, str(config.get("prefix", "")), top)
    model = trim_model(onnx.load(str(model_dir / MODEL_FILE)), keep)
    onnx.save(model, str(model_dir / MODEL_FILE))
    with gzip.GzipFile(model_dir / TOKENIZER_FILE, "wb", compresslevel=9, mtime=0) as fh:
        fh.write(json.dumps(trim_tokenizer(spec, keep), ensure_ascii=False).encode("utf-8"))
    previous = config.get("vocabulary", {})
    config["vocabulary"] = {
        "pieces": len(keep), "of": previous.get("of", before), "top": top, "texts": len(texts),
        "kept": "special pieces, every piece of the ../shared/data train and validation texts, every "
                f"one-character piece, every piece in {', '.join(sorted(SCRIPTS)).lower()} script, the most "
                "likely others (python -m mmstream.training.vocab)",
    }
    (model_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return config["vocabulary"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m mmstream.training.vocab", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--model-dir", default="plugins/text/mmstream_text/model", help="the text plugin's model folder")
    ap.add_argument("--top", type=int, default=TOP, help=f"most likely other pieces to keep (default {TOP:,})")
    args = ap.parse_args(argv)
    texts = corpus()
    print(f"trimming to the pieces of {len(texts):,} train and validation texts ...", flush=True)
    print(json.dumps(trim(Path(args.model_dir), texts, args.top), indent=2))


if __name__ == "__main__":
    main()
