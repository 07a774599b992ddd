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
