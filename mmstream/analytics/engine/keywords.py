"""Words of a post for topic keywords, and class-based TF-IDF over topics.

Terms are lower-cased words of three or more letters (hashtags keep their
``#``; a possessive ``'s`` is dropped: "brewly's" counts as "brewly"). Never
terms: URLs, @handles, HTML tags and entities (a ``<script>`` or ``<style>``
element with its content), numbers and number-like tokens ("6pm", "2nd", "b12",
"x2": as many digits as letters, or a number with a unit), common English and
Spanish stop words, words of markup and of the web ("script", "href", "nbsp",
"http") and the brand names a miner is told about (:class:`BrandTerms`: the
configured aliases as phrases, so "Acme Air" goes but "air" alone stays).
Runs of Japanese/Chinese characters, written without spaces, become character
bigrams, less those of grammar (all hiragana) and half-words (a small kana).
A topic's keywords are its terms ranked by c-TF-IDF: the term's share
of the topic's terms times ``log(1 + A / F)``, ``A`` the average number of
terms per topic, ``F`` the term's count across all topics.
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Iterable, Mapping

_NOISE = re.compile(r"https?://\S+|www\.\S+|\b[\w.-]+\.(?:com|net|org|io|co|ly|gl)(?:/\S*)?|\{\{[^}]*\}\}|\{@[^}]*@\}"
                    r"|[@＠]\w+", re.IGNORECASE)
#: markup: whole script/style elements, then any tag, comment or entity
_MARKUP = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)|<!--.*?(?:-->|$)|</?[a-z][^>]*>|&#?\w{1,10};",
                     re.IGNORECASE | re.DOTALL)
_TOKEN = re.compile(r"#?\w[\w'’]*")
_POSSESSIVE = re.compile(r"['’]s?$")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
#: number-like tokens: a number with a unit or suffix (6pm, 10am, 2nd, 5k, 3hrs, 1080p, 4g)
_NUMBERISH = re.compile(r"\d+(?:[.,:]\d+)*(?:am|pm|st|nd|rd|th|s|k|m|b|h|hr|hrs|min|mins|sec|secs|x|p|g|gb|mb|tb|kg|"
                        r"km|mi|lb|lbs|mph|usd|eur|gbp|yo|ish)?")
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
ain't aint almost already although always among another anyone anything anyway anywhere around away back be
became become becomes best better big bit came come comes coming could'nt did does done each either else enough
ever every everyone everything far feel find first found gave give given gives go goes gone gotta guys hey hi
however i'd i'll i've ill isnt itll ive keep kind last later least less lets let lol look looking looks lot lots
maybe mean might mine must never next nothing often ok okay omg once ones part people per perhaps please pretty
put quite rather right said say says second seem seems seen several shall she'd she'll shes shouldn't show since
sure take taken takes tell thank thanks thats the their theres thing things though thought three thru thus
together told took toward towards try trying two u ur upon us use used using usually wanna way ways whatever
whats whether who's whose wont would've wouldn't yeah yes yet you'd you'll you've youre yours yall y'all
year years week weeks month months hour hours minute minutes tonight tomorrow yesterday morning night
monday tuesday wednesday thursday friday saturday sunday
actually literally basically definitely totally probably already anymore everybody somebody someone something
absolutely honestly seriously truly simply especially finally currently recently soon
nobody elsewhere anyways though tho lmao lmfao haha hahaha smh tbh idk imo btw pls plz
el la los las un una unos unas de del al y o que en es por para con sin se su sus lo le les mi mis tu tus
como pero mas más muy ya hay este esta estos estas ese esa eso son fue ser está están estoy yo me te nos
aunque cuando donde todo toda todos todas solo sólo sea así debe puede hace tiene tengo porque bien también
cada otro otra otros sobre entre hasta desde quiero ni le ha han he has era eran ser estar mucho mucha nada
jaja jajaja jajajaja
não nao uma com os as do da dos das no na nos nas ao aos pelo pela mas muito isso esse essa ele ela eles você
vc tem ter foi ser está estou meu minha seu sua já também quando onde porque tudo nada aqui ai kkk kkkk
le les des du une et est dans pour pas sur qui au aux avec ce cette ces il elle ils elles je tu nous vous
mon ma mes ton ta son sa ses ne plus mais ou où être avoir été fait très bien tout tous comme suis sont
der die das den dem des ein eine einen einem und ist nicht mit sich auf für von zu im ich du er sie es wir
ihr auch wie aber noch nur so wenn dann schon bei aus nach hat haben sind war mal mein dein sein
il lo gli della delle dei degli di che non con per una sono alla nel nella ma anche come più ho hai ha
questo questa quello quella mi ti ci si tutto tutti molto sempre ancora già
και το τα την της του των τον η ο οι να με σε για από που δεν θα είναι στο στη στην στον στα στις ένα μια
μου σου μας σας τους αυτό αυτή αλλά ή πως ότι όταν έχει έχουν έχω ήταν πολύ μόνο τι κι ούτε τις επί αντί όσους
όσοι τώρα εμείς εσύ εγώ είσαι εισαι είπε θέλεις κάτι πίσω
""".split())
#: words of markup and of the web, never a topic's keyword
MARKUP_WORDS = frozenset("""
script javascript noscript style href src img div span iframe onerror onload onclick alert html http https www
com nbsp quot apos amp lt gt url link links bio tweet tweets retweet retweets repost reposts dm dms via rt
""".split())


class BrandTerms:
    """Brand names that are never keywords: the configured aliases, as phrases (taken out of the
    text before it is split into words), and each alias's words run together ("acmeair")."""

    def __init__(self, aliases: Iterable[str] = ()) -> None:
        spellings = sorted({a.strip().lstrip("@#＠").casefold() for a in aliases if a and a.strip().lstrip("@#＠")},
                           key=lambda a: (-len(a), a))
        self.aliases = tuple(spellings)
        self.words = frozenset(a.replace(" ", "") for a in spellings)
        body = "|".join(r"\s+".join(re.escape(w) for w in a.split()) for a in spellings)
        self.pattern = re.compile(rf"(?<!\w)[@#＠]?(?:{body})(?!\w)", re.IGNORECASE) if body else None

    def strip(self, text: str) -> str:
        return self.pattern.sub(" ", text) if self.pattern is not None else text


NO_BRANDS = BrandTerms()


@functools.lru_cache(maxsize=16)
def brand_terms(spellings: tuple[str, ...]) -> BrandTerms:
    """The :class:`BrandTerms` of ``spellings``, built once."""
    return BrandTerms(spellings) if spellings else NO_BRANDS


def clean(text: str, brands: BrandTerms = NO_BRANDS) -> str:
    """``text`` without markup, URLs, handles and brand names, lower-cased."""
    if "<" in text or "&" in text:
        text = _MARKUP.sub(" ", text)
    return brands.strip(_NOISE.sub(" ", text)).lower()


def terms(text: str, brands: BrandTerms = NO_BRANDS) -> list[str]:
    """The keyword terms of ``text``, in order, duplicates kept."""
    cleaned = clean(text, brands)
    if not _CJK.search(cleaned):  # the common case: no per-token CJK handling
        return [word for word in (_word(token) for token in _TOKEN.findall(cleaned)) if _keeps(word, brands)]
    out: list[str] = []
    for token in _TOKEN.findall(cleaned):
        for run in _CJK.findall(token):
            out += [pair for pair in (run[i:i + 2] for i in range(len(run) - 1)) if _content_pair(pair)]
        word = _word(_CJK.sub("", token))
        if _keeps(word, brands):
            out.append(word)
    return out


_HIRAGANA = re.compile(r"^[\u3040-\u309f]+$")
_SMALL_KANA = re.compile(r"[ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮーヽヾゝゞ]")


def _content_pair(pair: str) -> bool:
    """A character bigram that can carry meaning: not kana of grammar (all hiragana), no small kana or
    long-vowel mark (a half-word)."""
    return not _HIRAGANA.match(pair) and not _SMALL_KANA.search(pair)


def _word(token: str) -> str:
    return _POSSESSIVE.sub("", token.strip("'’")).strip("'’").replace("’", "'")


def _keeps(word: str, brands: BrandTerms) -> bool:
    bare = word.lstrip("#")
    if len(bare) < 3 or bare in STOP_WORDS or word in STOP_WORDS or bare in MARKUP_WORDS or bare in brands.words:
        return False
    digits = sum(ch.isdigit() for ch in bare)
    return not digits or (digits < len(bare) - digits and not _NUMBERISH.fullmatch(bare))


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
