"""The complaint head's extra training texts and the brand-directed dev set (issue 29)."""
from __future__ import annotations

import re

from mmstream.evaluation.brand_dev import KINDS, brand_dev_set
from mmstream.training.complaint_data import ocr_style, ocr_variants


def test_ocr_style_is_caps_without_punctuation_in_short_lines():
    text = "@AmericanAir worst airline ever!!! Lost my bag again, nobody cares. http://t.co/x1"
    out = ocr_style(text, 5)
    assert out == out.upper() and not re.search(r"[^\w\s]", out) and "HTTP" not in out
    assert out.split() == "AMERICANAIR WORST AIRLINE EVER LOST MY BAG AGAIN NOBODY CARES".split()
    assert all(2 <= len(line.split()) <= 6 for line in out.split("\n")[:-1]) and "\n" in out
    assert ocr_style(text, 5) == out  # seeded
    a, b = ocr_variants([text * 3, text * 3], 1)
    assert a.split() == b.split() and a != b  # the line breaks differ by row


def test_ocr_style_of_a_text_without_words_is_not_empty():
    assert ocr_style("!!!", 0).strip()


def test_the_dev_set_has_every_kind_as_written_and_as_ocr_reads_it():
    posts = brand_dev_set()
    assert {p["kind"] for p in posts} == set(KINDS)
    assert sum(p["ocr"] for p in posts) * 2 == len(posts)
    assert {p["complaint"] for p in posts if p["kind"] == "complaint"} == {1}
    assert {p["complaint"] for p in posts if p["kind"] != "complaint"} == {0}
    assert not any("{" in p["words"] for p in posts)
    assert posts == brand_dev_set()


def test_the_generated_brand_praise_shares_no_sentence_or_brand_with_the_dev_set():
    from mmstream.evaluation.brand_dev import BRANDS
    from mmstream.training.complaint_data import PRAISE_BRANDS, brand_praise

    praise = brand_praise()
    assert len(praise) == len(set(praise)) and not any("{" in p for p in praise)
    assert not set(praise) & {p["words"] for p in brand_dev_set()}
    assert not {b[0] for b in PRAISE_BRANDS} & {b[0] for b in BRANDS}
    assert not any(b[0].lower() in p.lower() or b[1].lower() in p.lower() for b in BRANDS for p in praise)
    assert brand_praise() == praise and brand_praise(14) != praise


def test_the_generated_brand_news_shares_no_sentence_or_brand_with_the_dev_set():
    from mmstream.evaluation.brand_dev import BRANDS
    from mmstream.training.complaint_data import BRAND_NEWS, brand_news

    news = brand_news()
    assert len(news) == 3 * len(BRAND_NEWS) and len(set(news)) == len(news) and not any("{" in n for n in news)
    assert not set(news) & {p["words"] for p in brand_dev_set()}
    assert not any(b[0].lower() in n.lower() for b in BRANDS for n in news)
    assert brand_news() == news and brand_news(14) != news
