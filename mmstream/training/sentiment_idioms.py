"""Brand-directed idioms for the sentiment view's fine-tune (issue 29): praise that is written with negations,
rhetorical questions and caps ("couldn't be more pleased", "why did nobody tell me"), which the encoder
fine-tuned on TweetEval alone reads as negative, and gripes written the same ways, so that what is learnt is
the idiom and not "a negation is praise".

The praise is :data:`mmstream.training.complaint_data.BRAND_PRAISE`; the gripes below mirror it sentence by
sentence. Both are written here, with made-up brands, apart from the sentences of the brand-directed dev set
(:mod:`mmstream.evaluation.brand_dev`; a unit test checks none is shared), each also as OCR reads a caption.

    python -m mmstream.training.finetune_text --brand-idioms 4

Tried once, not shipped: the dev set's praise stayed flagged and TweetEval fell (BENCHMARKS.md 'The sentiment view
fine-tuned with brand idioms').
"""
from __future__ import annotations

import numpy as np

from mmstream.training.complaint_data import BRAND_PRAISE, ocr_variants, said_of_brands

#: gripes addressed to a brand in the praise's own turns of phrase (negations, questions, caps)
BRAND_GRIPES = (
    "I honestly couldn't be more annoyed with {brand}, the {thing} was a mess",
    "{handle} not a single day without a problem with my {thing}. Fed up",
    "Why did nobody tell me {brand} was this bad?? Never again",
    "Can't believe I wasted this long on {brand}. Going back to the old one",
    "{brand} has never once got it right. The {thing} today was broken again",
    "Nothing but complaints about {brand}, slow and painful from start to end",
    "I didn't expect much from {brand} and still the {thing} let me down",
    "Nothing is worse than the {thing} at {brand}, no contest",
    "who needs this stress?! {brand} lost my {thing} again",
    "{handle} you did NOT have to be that rude, the {thing} was awful",
    "Nothing but regrets since switching to {brand}. Should have stayed away",
    "Never had service this bad. Shame on you {handle}!",
    "I was ready to give {brand} a chance but the {thing} broke in two minutes. Useless",
    "Stop what you're doing and cancel {brand}, the {thing} is a scam",
    "Not gonna lie, {brand} might be the worst thing that happened to me this year",
    "{brand} staff were so rude to my mum today, can't believe it",
    "How is the {brand} {thing} this expensive AND this bad?",
    "Dear {handle}, you never get it right. Another ruined {thing}",
    "I was right about {brand}. The {thing} is genuinely terrible",
    "If you're thinking of trying {brand}, don't. So bad",
)


def idiom_rows(seed: int = 13) -> tuple[list[str], np.ndarray]:
    """(texts, TweetEval labels: 2 positive, 0 negative): every praise and gripe sentence with three made-up
    brands each, and each of those as OCR reads it."""
    rng = np.random.default_rng(seed + 41)
    praise, gripes = said_of_brands(BRAND_PRAISE, rng), said_of_brands(BRAND_GRIPES, rng)
    texts = praise + gripes
    labels = [2] * len(praise) + [0] * len(gripes)
    return texts + ocr_variants(texts, seed + 43), np.array(labels * 2, np.int64)
