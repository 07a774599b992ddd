"""The English word list of the text plugin's language detection (its extractor's
``model_files()["english_words"]``: ``plugins/text/mmstream_text/model/english_words.txt.gz``).

A word is listed when it is frequent in English tweets (TweetEval sentiment train, 3 times or more)
and at least three times as frequent there, per word of text, as in each of UMSAB's Latin-script
languages' train tweets (fr, de, it, pt, es; UMSAB's Hindi tweets are mostly Hindi written in
Latin letters mixed with English, and are left out of the comparison). Only train splits are read.

    .venv/bin/python -m mmstream.training.english_words
"""
from __future__ import annotations

import gzip
import re
import sys
from collections import Counter

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
NOISE = re.compile(r"(?:https?://|www\.)\S+|@\w+|#\w+")
COMPARED = {"french": "fr", "german": "de", "italian": "it", "portuguese": "pt", "spanish": "es"}


def words(text: str) -> list[str]:
    return WORD.findall(NOISE.sub(" ", text.lower()))


def english_words(min_count: int = 3, ratio: float = 3.0) -> list[str]:
    from mmstream.training.data import tweeteval_sentiment
    from mmstream.training.multilingual import umsab

    english = Counter(w for t in tweeteval_sentiment("train")[0] for w in words(t))
    total = sum(english.values())
    others = [Counter(w for t in umsab(folder, "train")[0] for w in words(t)) for folder in COMPARED]
    sizes = [sum(o.values()) for o in others]
    return sorted(w for w, n in english.items() if n >= min_count and len(w) >= 2
                  and all(n / total > ratio * o[w] / size for o, size in zip(others, sizes)))


def main() -> int:
    from mmstream.training.extractors import model_file, plugin_extractors

    out = model_file(plugin_extractors(), "english_words")  # where the text plugin reads it from
    listed = english_words()
    out.write_bytes(gzip.compress(("\n".join(listed) + "\n").encode("utf-8"), compresslevel=9, mtime=0))
    print(f"{len(listed)} words -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
