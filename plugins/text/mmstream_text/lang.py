"""Offline language identification of post texts: py3langid (langid.py's
model, restricted to :data:`LANGUAGES`, shipped inside the wheel as ``data/model.npz.xz``:
nothing is downloaded), with three guards against short or English-looking texts
flipping to rare languages ("Merry Christmas Marsha !" read as Uzbek, "Brutal." as Malay):

* **a prior by script**: a text mostly in a script of its own (Greek, Hangul, kana, Thai,
  Hebrew ...) is that script's language; Cyrillic, Arabic, Devanagari and Han texts are
  classified among their script's languages only; a Latin text among Latin-script languages,
  with prior weights: English :data:`PRIOR_EN`, the five large European languages of the
  stream :data:`PRIOR_MAJOR`, a middle group :data:`PRIOR_MID`, the rest :data:`PRIOR_RARE`
  (the scores are py3langid's, tempered by the square root of the text's length, as its own
  normalised probabilities are);
* **a confidence threshold**: a Latin text of fewer than :data:`LONG_LETTERS` letters gets a
  language other than English only at a posterior of :data:`MIN_CONFIDENCE` or more;
* **``und`` rather than a guess**: below it, a text whose words are mostly English
  (``model/english_words.txt.gz``: words of English tweets, ``mmstream.training.english_words``)
  is ``en``, any other ``und`` (undetermined, ISO 639-2).

The constants were chosen on TweetEval sentiment train (tweets and their sentences of 1-5 words)
and UMSAB train; ``benchmarks/language.py`` reports the test splits. Mentions, links, hashtag signs
and retweet marks are taken out first (they are not language) and the text is lower-cased (capitals
read as other languages); a text with no letters left gets ``None``. About 0.1 ms a tweet on one core."""
from __future__ import annotations

import functools
import gzip
import math
import unicodedata
from collections import Counter
import re
import threading
from pathlib import Path

_NOISE = re.compile(r"(?:https?://|www\.)\S+|@\w+|\bRT\b|&amp;|&lt;|&gt;|[#_]")
#: the languages it may answer: the model's 97 less dialects and rare ones that English tweets
#: were mistaken for (Nigerian Pidgin, Latin, Luxembourgish ...): 97.5 % of TweetEval test reads as en
LANGUAGES = tuple("af am ar az be bg bn bs ca cs da de el en es et eu fa fi fr gl gu he hi hr hu hy id is it ja ka "
                  "kk km kn ko lt lv mk ml mn mr ms my nb ne nl pa pl ps pt ro ru si sk sl sq sr sv sw ta te th tl "
                  "tr uk ur uz vi zh".split())
#: LANGUAGES written in Latin letters
_LATIN = frozenset(LANGUAGES) - {"am", "ar", "be", "bg", "bn", "el", "fa", "gu", "he", "hi", "hy", "ja", "ka", "kk",
                                  "km", "kn", "ko", "mk", "ml", "mn", "mr", "my", "ne", "pa", "ps", "ru", "si", "sr",
                                  "ta", "te", "th", "uk", "ur", "zh"}
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
    the same (4,100 of 4,100 tweets in eight languages) in 65 MB instead of 87. The
    model is read without transient copies (:func:`_read_model`): py3langid's own
    loader peaked 45 MB above what it keeps, and a worker's peak resident size is
    its start-up peak or later."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    ptc, pc, classes, nextmove, row, output = _read_model(MODEL_DIR / MODEL_FILE, set(LANGUAGES))
    return LanguageIdentifier(ptc, pc, classes, nextmove, output, tk_row=row)


_TYPECODES = {2: "H", 4: "I", 8: "L"}


def _read_model(path, languages: set[str]):
    """py3langid's model file (an LZMA-compressed npz) as py3langid.modelio.load_model gives it,
    with only ``languages``' columns of the feature table: each array is read straight into
    the object that keeps it (the DFA into its ``array``; the table in slices of rows)."""
    import lzma
    import shutil
    import tempfile
    import zipfile
    from array import array

    import numpy as np

    def header(member) -> tuple[tuple[int, ...], np.dtype]:
        version = np.lib.format.read_magic(member)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(member)
        if fortran:
            raise ValueError(f"{path}: unexpected Fortran-ordered array; reinstall py3langid")
        return shape, dtype

    with tempfile.TemporaryFile(suffix=".npz") as tmp:
        with lzma.open(path) as src:
            shutil.copyfileobj(src, tmp, length=1 << 20)
        tmp.seek(0)
        with zipfile.ZipFile(tmp) as npz:
            small = {k: np.load(npz.open(f"{k}.npy"), allow_pickle=False) for k in ("pc", "classes", "out_feat")}
            classes = small["classes"].tolist()
            keep = np.array([i for i, code in enumerate(classes) if code in languages])

            def into_array(name: str) -> array:
                with npz.open(f"{name}.npy") as member:
                    shape, dtype = header(member)
                    out = array(_TYPECODES[dtype.itemsize], [0]) * int(np.prod(shape))
                    view, pos = memoryview(out).cast("B"), 0
                    while pos < len(view):  # in 1 MB reads: a zip member's readinto reads a whole copy first
                        chunk = member.read(min(1 << 20, len(view) - pos))
                        if not chunk:
                            raise ValueError(f"{path}: {name} is truncated; reinstall py3langid")
                        view[pos:pos + len(chunk)] = chunk
                        pos += len(chunk)
                    return out

            nextmove, row = into_array("nextmove"), into_array("nextmove_row")
            with npz.open("ptc.npy") as member:
                (n, width), dtype = header(member)
                ptc = np.empty((n, len(keep)), dtype)
                for start in range(0, n, 8192):
                    rows = min(8192, n - start)
                    chunk = np.frombuffer(member.read(rows * width * dtype.itemsize), dtype).reshape(rows, width)
                    ptc[start:start + rows] = chunk[:, keep]
    return ptc, small["pc"][keep], [classes[i] for i in keep], nextmove, row, small["out_feat"].tolist()


def load() -> None:
    """Load the model and the English word list now (about 0.3 s), not on the first post."""
    _identifier()
    english_words()


#: prior weights of Latin-script languages (English first: an English-centred stream)
PRIOR_EN, PRIOR_MAJOR, PRIOR_MID, PRIOR_RARE = 0.3, 0.1, 0.01, 0.0005
MAJOR = frozenset("es pt fr de it".split())
MID = frozenset("nl id tr pl sv ms tl ca ro cs da nb fi hu vi".split())
#: a Latin text shorter than this (letters) needs MIN_CONFIDENCE for a language other than English
LONG_LETTERS = 30
MIN_CONFIDENCE = 0.8
#: share of a text's words in the English word list at which an unsure text is English
ENGLISH_SHARE = 0.5
UNDETERMINED = "und"
#: scripts written by one language of LANGUAGES (a text mostly in one is that language)
SCRIPT_LANGUAGE = {"GREEK": "el", "HANGUL": "ko", "KANA": "ja", "THAI": "th", "HEBREW": "he", "GEORGIAN": "ka",
                   "ARMENIAN": "hy", "ETHIOPIC": "am", "BENGALI": "bn", "GUJARATI": "gu", "GURMUKHI": "pa",
                   "TAMIL": "ta", "TELUGU": "te", "KANNADA": "kn", "MALAYALAM": "ml", "SINHALA": "si",
                   "KHMER": "km", "MYANMAR": "my"}
#: scripts shared by several: classified among these only
SCRIPT_LANGUAGES = {"CYRILLIC": ("ru", "uk", "bg", "sr", "mk", "be", "kk", "mn"), "ARABIC": ("ar", "fa", "ur", "ps"),
                    "DEVANAGARI": ("hi", "mr", "ne"), "HAN": ("zh", "ja")}
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
WORDS_FILE = Path(__file__).resolve().parent / "model" / "english_words.txt.gz"


@functools.lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    try:
        first = unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "?"
    if first in ("HIRAGANA", "KATAKANA"):
        return "KANA"
    return "HAN" if first == "CJK" else first


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    if not WORDS_FILE.is_file():
        raise FileNotFoundError(f"{WORDS_FILE} is missing; reinstall mmstream-text or run "
                                "`python -m mmstream.training.english_words`")
    return frozenset(gzip.decompress(WORDS_FILE.read_bytes()).decode("utf-8").split())


def _prior(code: str) -> float:
    return PRIOR_EN if code == "en" else PRIOR_MAJOR if code in MAJOR else PRIOR_MID if code in MID else PRIOR_RARE


def identify(text: str) -> tuple[str | None, str | None]:
    """``(code, guess)``: the ISO 639-1 code of ``text``'s language (``en``, ``es``, ``el`` ...),
    ``und`` when it cannot be told, None without letters; ``guess`` is the likeliest language
    even when ``code`` is ``und`` (for routing: :func:`is_other_language`)."""
    cleaned = _NOISE.sub(" ", text).lower()
    letters = [ch for ch in cleaned if ch.isalpha()]
    if not letters:
        return None, None
    scripts = Counter(_script(ch) for ch in letters)
    if scripts.get("KANA"):  # kana anywhere among Han: Japanese
        scripts["KANA"] += scripts.pop("HAN", 0)
    script, count = scripts.most_common(1)[0]
    if script != "LATIN" and count * 2 >= len(letters):
        if script in SCRIPT_LANGUAGE:
            return SCRIPT_LANGUAGE[script], SCRIPT_LANGUAGE[script]
        ranked = _identifier().rank(cleaned)
        allowed = SCRIPT_LANGUAGES.get(script)
        best = next((code for code, _ in ranked if allowed is None or code in allowed), ranked[0][0])
        return best, best
    scores = [(code, score) for code, score in _identifier().rank(cleaned) if code in _LATIN]
    scale = 1.0 / math.sqrt(len(cleaned.encode("utf-8")))
    logits = [score * scale + math.log(_prior(code)) for code, score in scores]
    top = max(logits)
    weights = [math.exp(v - top) for v in logits]
    best_index = max(range(len(weights)), key=weights.__getitem__)
    best, confidence = scores[best_index][0], weights[best_index] / sum(weights)
    if best == "en":
        return "en", "en"
    words = _WORD.findall(cleaned)
    share = sum(w in english_words() for w in words) / len(words) if words else 0.0
    if confidence >= MIN_CONFIDENCE or (len(letters) >= LONG_LETTERS and share < ENGLISH_SHARE):
        return best, best
    return ("en" if share >= ENGLISH_SHARE else UNDETERMINED), best


def detect(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, ``und`` when it cannot be told, None without letters."""
    return identify(text)[0]


#: a Latin-script text with fewer letters than this stays on the English path whatever the detector
#: says ("ok", "lol", "b"): too short to tell, and most such posts in an English stream are English
MIN_LATIN_LETTERS = 12


def is_other_language(text: str, code: str | None) -> bool:
    """Whether ``text``, detected as ``code`` (for an ``und`` text: the likeliest language,
    :func:`identify`'s guess), goes to the multilingual encoder."""
    if code in (None, "en", UNDETERMINED):
        return False
    letters = [ch for ch in _NOISE.sub(" ", text) if ch.isalpha()]
    return len(letters) >= MIN_LATIN_LETTERS or any(ord(ch) > 0x24F for ch in letters)
