"""Extra training texts of the complaint head (issue 29: complaint precision on praise, news,
questions and announcements, without losing recall):

* **OCR-style variants** (:func:`ocr_style`): a text as OCR reads it off a meme or a video caption: all
  caps, no punctuation, line breaks every few words. Every training text gets one, complaints and
  non-complaints alike, so capitals and missing punctuation say nothing about the label;
* **hard negatives** (:func:`hard_negatives`): posts that are not complaints but read like them to a head
  trained on the complaints data alone: praise, news headlines, questions and announcements, drawn from
  TweetEval sentiment **train** only (its labels: praise is positive; the others are neutral or positive),
  each with its OCR-style variant too.

Measured on the brand-directed dev set of :mod:`mmstream.evaluation.brand_dev` (never trained on).
"""
from __future__ import annotations

import re

import numpy as np

#: hard negatives of each kind drawn from TweetEval sentiment train
PER_KIND = 400
KINDS = ("praise", "news", "question", "announcement")

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_URL = re.compile(r"https?://\S+")
_FIRST_PERSON = re.compile(r"\b(i|i'm|im|my|me|we|our|us|you|your|u)\b", re.IGNORECASE)
_ANNOUNCE = re.compile(r"\b(announc\w*|launch\w*|now (?:open|available|live)|coming soon|join us|tickets|"
                       r"pre-?order\w*|releas\w*|grand opening|on sale|new season|premier\w*|unveil\w*)\b",
                       re.IGNORECASE)


def ocr_style(text: str, seed: int) -> str:
    """``text`` as OCR of a caption gives it: upper case, punctuation, links and ``@``/``#`` marks gone,
    a line break every 2-6 words (seeded by ``seed``)."""
    words = _PUNCT.sub(" ", _URL.sub(" ", text)).upper().split()
    if not words:
        return text.upper() or "."
    rng = np.random.default_rng(seed)
    lines, start = [], 0
    while start < len(words):
        step = int(rng.integers(2, 7))
        lines.append(" ".join(words[start:start + step]))
        start += step
    return "\n".join(lines)


def ocr_variants(texts: list[str], seed: int) -> list[str]:
    return [ocr_style(t, seed * 1_000_003 + i) for i, t in enumerate(texts)]


def _kind(text: str, label: int) -> str | None:
    """Which hard-negative kind a TweetEval train tweet is, or None (labels: 0 negative, 1 neutral, 2 positive)."""
    if label == 0:
        return None
    if "?" in text:
        return "question"
    if _ANNOUNCE.search(text):
        return "announcement"
    if label == 1 and _URL.search(text) and not _FIRST_PERSON.search(text):
        return "news"  # a neutral, impersonal post with a link: a headline
    if label == 2:
        return "praise"
    return None


def hard_negatives(seed: int = 13, per_kind: int = PER_KIND) -> tuple[list[str], list[str]]:
    """(texts, kinds): up to ``per_kind`` TweetEval sentiment train tweets of each of :data:`KINDS`, seeded."""
    from mmstream.training.data import tweeteval_sentiment

    texts, y = tweeteval_sentiment("train")
    by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
    for i, (t, label) in enumerate(zip(texts, y)):
        kind = _kind(t, int(label))
        if kind:
            by_kind[kind].append(i)
    rng = np.random.default_rng(seed + 29)
    out_texts, out_kinds = [], []
    for kind in KINDS:
        rows = by_kind[kind]
        for i in sorted(rng.choice(len(rows), size=min(per_kind, len(rows)), replace=False)):
            out_texts.append(texts[rows[i]])
            out_kinds.append(kind)
    return out_texts, out_kinds


#: made-up brands of the generated brand-directed praise (none of them is one of the dev set's)
PRAISE_BRANDS = (("Tidal Telecom", "@TidalTelecom", "contract"), ("Kettle & Co", "@kettleandco", "flat white"),
                 ("Skyhop", "@skyhop", "flight"), ("Pinecrest Hotels", "@PinecrestHotels", "suite"),
                 ("Novo Insurance", "@novoinsure", "claim"), ("Brightcart", "@brightcart", "delivery"),
                 ("Quill Books", "@quillbooks", "order"), ("Ferro Bikes", "@ferrobikes", "e-bike"))
#: praise addressed to a brand as customers write it: negations ("not a single", "never"), rhetorical questions,
#: comparisons and caps, which read negative to a sentiment head but are no complaint; written for training here,
#: apart from the dev set's sentences (mmstream.evaluation.brand_dev)
BRAND_PRAISE = (
    "I honestly couldn't be more pleased with {brand}, the {thing} was spot on",
    "{handle} not a single problem with my {thing} since day one. Impressed",
    "Why did nobody tell me {brand} was this good?? My new favourite",
    "Can't believe it took me this long to try {brand}. Never going back to the old one",
    "{brand} has never once let me down. The {thing} today was flawless",
    "No complaints at all about {brand}, quick and painless from start to end",
    "I didn't expect much from {brand} but wow, the {thing} blew me away",
    "Nothing beats the {thing} at {brand}, no contest",
    "who needs anything else when {brand} exists?! {thing} was perfect again",
    "{handle} you did NOT have to go that hard, the {thing} was incredible",
    "Zero regrets switching to {brand}. Should have done it years ago",
    "Never had service this good. Thank you {handle}!",
    "I was ready to be annoyed but {brand} fixed my {thing} in two minutes. Legends",
    "Stop what you're doing and try the {thing} from {brand}, unreal",
    "Not gonna lie, {brand} might be the best thing that happened to me this year",
    "{brand} staff went above and beyond for my mum today, can't thank them enough",
    "How is the {brand} {thing} this cheap AND this good?",
    "Dear {handle}, you never miss. Another perfect {thing}",
    "I was wrong about {brand}. The {thing} is genuinely brilliant",
    "If you haven't tried {brand} yet what are you even doing. So good",
)


#: news headlines about a brand, good and bad, as news accounts and readers post them: no customer's complaint,
#: though often negative; written for training here (after reading the dev set's flagged headlines), apart from
#: the dev set's sentences (mmstream.evaluation.brand_dev)
BRAND_NEWS = (
    "{brand} posts record quarterly revenue, shares up 5%",
    "{brand} to close 40 branches and lay off 800 staff",
    "Shares of {brand} slide after a profit warning",
    "{brand} fined $2m by regulator over late refunds",
    "{brand} CEO steps down amid accounting probe",
    "{brand} agrees $3bn merger with rival",
    "Strike at {brand} set to disrupt services next week, union says",
    "{brand} raises prices for the second time this year",
    "Analysts downgrade {brand} on weak {thing} sales",
    "{brand} reports data breach affecting 1.2 million customers",
    "{brand} opens new headquarters, creating 500 jobs",
    "{brand} Q3: revenue misses estimates, outlook cut",
    "Court rules against {brand} in long-running patent dispute",
    "{brand} suspends {thing} sales in Europe pending safety review",
    "How {brand} plans to win back customers after a tough year",
    "{brand} pledges net zero by 2035 in new climate plan",
    "Why investors are losing patience with {brand}",
    "{brand} warns of delays as supply chain problems persist",
    "{brand} services restored after six-hour outage, company says",
    "BREAKING: {brand} under investigation for misleading {thing} ads",
)


def said_of_brands(templates: tuple[str, ...], rng: np.random.Generator) -> list[str]:
    """Every template with three of :data:`PRAISE_BRANDS` each (drawn from ``rng``), in template order."""
    out = []
    for template in templates:
        for i in rng.choice(len(PRAISE_BRANDS), size=3, replace=False):
            brand, handle, thing = PRAISE_BRANDS[int(i)]
            out.append(template.format(brand=brand, handle=handle, thing=thing))
    return out


def brand_news(seed: int = 13) -> list[str]:
    """Every :data:`BRAND_NEWS` headline with three of :data:`PRAISE_BRANDS` each (seeded): complaint-head
    training negatives, bad news included."""
    return said_of_brands(BRAND_NEWS, np.random.default_rng(seed + 37))


def brand_praise(seed: int = 13) -> list[str]:
    """Every :data:`BRAND_PRAISE` sentence with three of :data:`PRAISE_BRANDS` each (seeded), brand or handle as
    the sentence says: complaint-head training negatives that are addressed to a brand, unlike TweetEval's."""
    return said_of_brands(BRAND_PRAISE, np.random.default_rng(seed + 31))
