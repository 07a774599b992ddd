"""Language detection (the text plugin's ``mmstream_text.lang``) on held-out tweets.

* English: TweetEval sentiment test (12,284 tweets; those with 3 letters or more after
  mentions and links are taken out), all of them and those of 5 words or fewer: the share
  detected ``en`` (the bar: 99.7 %), ``und`` and each other language;
* UMSAB test, seven languages (870 tweets each): the share detected as the folder's language,
  and where the rest went. UMSAB's Hindi tweets are mostly Hindi in Latin letters, which
  py3langid does not model;
* the same with py3langid's plain answer (the model restricted to LANGUAGES, no script prior,
  no threshold, no ``und``), as before issue 29;
* a few short texts an analyst reported.

Only test splits are read here; the constants of ``lang`` were chosen on train splits.

    nice .venv/bin/python benchmarks/language.py
"""
from __future__ import annotations

import sys
from collections import Counter

from mmstream.training.data import tweeteval_sentiment
from mmstream.training.multilingual import UMSAB_LANGS, umsab

REPORTED = ("Merry Christmas Marsha !", "Brutal.", "acme is great zenbank post 58",
            "Feeling some Leonard Cohen tonight", "Is Acme Air's lounge in terminal 2 open on Sundays?", "lol same", "ok")


def plain(text: str) -> str | None:
    from mmstream_text import lang

    cleaned = lang._NOISE.sub(" ", text)
    return lang._identifier().classify(cleaned)[0] if any(ch.isalpha() for ch in cleaned) else None


def share(found: list, code: str) -> float:
    return 100.0 * sum(f == code for f in found) / max(1, len(found))


def main() -> int:
    from mmstream_text import lang

    lang.load()
    texts = [t for t in tweeteval_sentiment("test")[0]
             if sum(ch.isalpha() for ch in lang._NOISE.sub(" ", t)) >= 3]
    short = [t for t in texts if len(t.split()) <= 5]
    print(f"{'set':<34} {'n':>6} {'now':>8} {'before':>8}   now: where the rest went")
    rows = [("English, TweetEval test", texts, "en"), ("English, TweetEval test, <= 5 words", short, "en")]
    for folder, code in UMSAB_LANGS.items():
        rows.append((f"UMSAB test [{code}]", umsab(folder, "test")[0], code))
    ml_now, ml_before = [], []
    for name, group, code in rows:
        now, before = [lang.detect(t) for t in group], [plain(t) for t in group]
        rest = Counter(f for f in now if f != code).most_common(4)
        print(f"{name:<34} {len(group):>6} {share(now, code):>7.2f}% {share(before, code):>7.2f}%   "
              + ", ".join(f"{c} {100 * n / len(group):.1f}%" for c, n in rest), flush=True)
        if code != "en":
            ml_now.append(share(now, code))
            ml_before.append(share(before, code))
    print(f"{'UMSAB test, mean of 7':<34} {'':>6} {sum(ml_now) / 7:>7.2f}% {sum(ml_before) / 7:>7.2f}%")
    print(f"{'UMSAB test, mean of 6 (no hi)':<34} {'':>6} {(sum(ml_now) - ml_now[3]) / 6:>7.2f}% "
          f"{(sum(ml_before) - ml_before[3]) / 6:>7.2f}%")
    for text in REPORTED:
        print(f"  {text!r}: {lang.detect(text)} (before: {plain(text)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
