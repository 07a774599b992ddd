"""Words of a post for topic keywords, and class-based TF-IDF over topics.

Terms are lower-cased words of three or more characters (hashtags keep their
``#``), minus URLs, @handles, numbers and common English/Spanish stop words;
runs of Japanese/Chinese characters, written without spaces, become character
bigrams. A topic's keywords are its terms ranked by c-TF-IDF: the term's share
of the topic's terms times ``log(1 + A / F)``, ``A`` the average number of
terms per topic, ``F`` the term's count across all topics.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Mapping

_NOISE = re.compile(r"https?://\S+|www\.\S+|\{\{[^}]*\}\}|\{@[^}]*@\}|@\w+")
_TOKEN = re.compile(r"#?\w[\w'’]*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each few
for from further get gets got had hadn't has hasn't have haven't having he her here hers herself him himself his
how i i'm if in into is isn't it it's its itself just let's like me more most my myself no nor not now of off on
once one only or other our ours ourselves out over own same she should so some such than that that's the their
theirs them themselves then there there's these they they're this those through to too under until up very was
wasn't we we're were weren't what when where which while who whom why will with won't would you you're your
yours yourself amp rt via im dont cant got get going gonna really still even much many well make made today new
day time know think see want need good great
el la los las un una unos unas de del al y o que en es por para con sin se su sus lo le les mi mis tu tus
como pero mas más muy ya hay este esta estos estas ese esa eso son fue ser está están estoy yo me te nos
""".split())


def terms(text: str) -> list[str]:
    """The keyword terms of ``text``, in order, duplicates kept."""
    clean = _NOISE.sub(" ", text).lower()
    if not _CJK.search(clean):  # the common case: no per-token CJK handling
        return [word for word in (token.strip("'’") for token in _TOKEN.findall(clean)) if _keeps(word)]
    out: list[str] = []
    for token in _TOKEN.findall(clean):
        for run in _CJK.findall(token):
            out += [run[i:i + 2] for i in range(max(1, len(run) - 1))] if len(run) > 1 else []
        word = _CJK.sub("", token).strip("'’")
        if _keeps(word):
            out.append(word)
    return out


def _keeps(word: str) -> bool:
    bare = word.lstrip("#")
    return len(bare) >= 3 and not bare.isdigit() and bare not in STOP_WORDS and word not in STOP_WORDS


def ctfidf_keywords(topic_terms: Counter, all_terms: Mapping[str, int], topics: int, total_terms: int,
                    n: int = 5) -> list[str]:
    """Top ``n`` terms of one topic by class-based TF-IDF (ties: alphabetical)."""
    size = sum(topic_terms.values())
    if not size:
        return []
    average = total_terms / max(1, topics)
    scored = [(count / size * math.log(1 + average / max(1, all_terms.get(term, count))), term)
              for term, count in topic_terms.items() if count > 1 or size < 20]
    scored.sort(key=lambda st: (-st[0], st[1]))
    return [term for _, term in scored[:n]]
