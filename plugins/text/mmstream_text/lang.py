"""Offline language identification of post texts: py3langid (langid.py's
model, restricted to :data:`LANGUAGES`, shipped inside the wheel as ``data/model.npz.xz``:
nothing is downloaded). Mentions, links, hashtag signs and retweet marks are
taken out first (they are not language); a text with no letters left gets
``None``. About 0.05 ms a tweet on one core."""
from __future__ import annotations

import re
import threading

_NOISE = re.compile(r"(?:https?://|www\.)\S+|@\w+|\bRT\b|&amp;|&lt;|&gt;|[#_]")
#: the languages it may answer: the model's 97 less dialects and rare ones that English tweets
#: were mistaken for (Nigerian Pidgin, Latin, Luxembourgish ...): 97.5 % of TweetEval test reads as en
LANGUAGES = tuple("af am ar az be bg bn bs ca cs da de el en es et eu fa fi fr gl gu he hi hr hu hy id is it ja ka "
                  "kk km kn ko lt lv mk ml mn mr ms my nb ne nl pa pl ps pt ro ru si sk sl sq sr sv sw ta te th tl "
                  "tr uk ur uz vi zh".split())
_LOCK = threading.Lock()
_IDENTIFIER = None


def _identifier():
    global _IDENTIFIER
    if _IDENTIFIER is None:
        with _LOCK:
            if _IDENTIFIER is None:
                _IDENTIFIER = _restricted_identifier()
    return _IDENTIFIER


def _restricted_identifier():
    """py3langid's identifier holding only :data:`LANGUAGES`' columns of its feature table.

    ``LanguageIdentifier.set_languages`` keeps the full table (100,053 x 142, float16)
    beside the restricted copy, for a later reset that never comes here: 28 MB of a
    worker's memory. Built from the restricted table alone, the identifier answers
    the same (4,100 of 4,100 tweets in eight languages) in 65 MB instead of 87."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    from py3langid.modelio import load_model

    ptc, pc, classes, nextmove, row, output = load_model(MODEL_DIR / MODEL_FILE)
    keep = [i for i, code in enumerate(classes) if code in set(LANGUAGES)]
    return LanguageIdentifier(np.ascontiguousarray(np.asarray(ptc)[:, keep]), np.asarray(pc)[keep],
                              [classes[i] for i in keep], nextmove, output, tk_row=row)


def load() -> None:
    """Load the model now (about 0.3 s), not on the first post."""
    _identifier()


def detect(text: str) -> str | None:
    """ISO 639-1 code (``en``, ``es``, ``el`` ...) of ``text``'s language, or None without letters."""
    cleaned = _NOISE.sub(" ", text)
    if not any(ch.isalpha() for ch in cleaned):
        return None
    return _identifier().classify(cleaned)[0]


#: a Latin-script text with fewer letters than this stays on the English path whatever the detector
#: says ("ok", "lol", "b"): too short to tell, and most such posts in an English stream are English
MIN_LATIN_LETTERS = 12


def is_other_language(text: str, code: str | None) -> bool:
    """Whether ``text``, detected as ``code``, goes to the multilingual encoder."""
    if code in (None, "en"):
        return False
    letters = [ch for ch in _NOISE.sub(" ", text) if ch.isalpha()]
    return len(letters) >= MIN_LATIN_LETTERS or any(ord(ch) > 0x24F for ch in letters)
