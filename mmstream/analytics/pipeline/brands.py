"""The brand matcher, as a pipeline enricher: matched brands into ``record["brands"]``
(the catalogue and the matching itself: :mod:`mmstream.analytics.engine.brands`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from mmstream.analytics.engine.brands import BrandCatalog
from mmstream.plugin.stages import Enricher

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.plugin import Item


class BrandMatcher(Enricher):
    """Pipeline enricher: adds matched brands to ``record["brands"]``."""

    name = "brands"

    def __init__(self, catalog: BrandCatalog) -> None:
        self.catalog = catalog

    def enrich(self, items: list[Item]) -> None:
        for item in items:
            assert item.record is not None
            texts = item.texts()  # the post's text, then text read or heard in its media
            own = set(item.post.modalities) if item.post is not None else set(item.text_views[:1])
            found = self.catalog.match([t for v, t in texts.items() if v in own],
                                       [t for v, t in texts.items() if v not in own])
            brands: list[str] = []
            known: set[str] = set()
            for brand_id in [self.catalog.canonical(b) for b in item.record.get("brands") or []] + found:
                if brand_id.casefold() not in known:
                    brands.append(brand_id)
                    known.add(brand_id.casefold())
            item.add("brands", brands)
