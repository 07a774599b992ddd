"""The ``link`` modality: the preview card of a link a post shares (its title and description), a
modality that produces text.

Brand talk often sits in the card rather than in the post ("Acme Air cancels 200 flights" under a bare
URL). The extractor hands the card's words on as the text view ``link_text`` (declared in
``text_views``): mmstream routes it to the text reader, so the card gets sentiment, complaint,
emotion, language and brand matching like the post's own text, with nothing in mmstream naming it.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from mmstream.plugin import Extraction, Extractor, PostError, check_text, check_value_type

#: a card's title or description longer than this is refused (a card is a headline and a sentence or two)
MAX_CHARS = 1000
FIELDS = ("url", "title", "description")


class LinkCardExtractor(Extractor):
    name = "link"
    modalities = ("link",)
    text_views = ("link_text",)

    def validate(self, modality, value):
        check_value_type(modality, value, dict, 'an object: {"url": ..., "title": ..., "description": ...}')
        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            raise PostError("unknown_field", f"'{modality}' has {unknown}; a link card has {', '.join(FIELDS)}.",
                            "validate")
        url = check_text(f"{modality}.url", value.get("url"), 2048)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PostError("bad_url", f"'{modality}.url' must be an http(s) URL, got {url[:80]!r}.", "validate")
        words = {k: check_text(f"{modality}.{k}", value[k], MAX_CHARS) for k in ("title", "description") if k in value}
        if not words:
            raise PostError("empty_value", f"'{modality}' has no title or description; send one, or leave the "
                            "card out.", "validate")
        return {"domain": parts.hostname.lower(), **words}

    def extract(self, modality, values):
        return [Extraction(report={"domain": card["domain"]},
                           derived={"link_text": "\n".join(card[k] for k in ("title", "description") if k in card)})
                for card in values]
