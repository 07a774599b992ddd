"""The sentiment view's generated idioms: praise and mirrored gripes, none of them a dev-set sentence or brand."""
from __future__ import annotations

from mmstream.evaluation.brand_dev import BRANDS, brand_dev_set
from mmstream.training.complaint_data import BRAND_PRAISE
from mmstream.training.sentiment_idioms import BRAND_GRIPES, idiom_rows


def test_each_praise_sentence_has_a_gripe_and_both_come_as_written_and_as_ocr_reads_them():
    texts, labels = idiom_rows()
    assert len(BRAND_GRIPES) == len(BRAND_PRAISE)
    n = 3 * (len(BRAND_PRAISE) + len(BRAND_GRIPES))
    assert len(texts) == len(labels) == 2 * n and len(set(texts)) == len(texts)
    assert list(labels[:n]) == [2] * (n // 2) + [0] * (n // 2) and list(labels[n:]) == list(labels[:n])
    assert all(t.isupper() and "," not in t for t in texts[n:] if any(c.isalpha() for c in t))
    assert not any("{" in t for t in texts)
    again, _ = idiom_rows()
    assert again == texts and idiom_rows(14)[0] != texts


def test_no_idiom_is_a_dev_set_sentence_or_names_a_dev_set_brand():
    texts, _ = idiom_rows()
    dev = {p["words"] for p in brand_dev_set()}
    assert not set(texts) & dev
    assert not any(b[0].lower() in t.lower() or b[1].lower() in t.lower() for b in BRANDS for t in texts)
