"""Words a plugin may prime a recogniser with: the configured brands, as they are written and said.

A speech or OCR model that is told which names to expect hears them far more often: Whisper base,
primed with the sample brands' names, heard the brand in 31 of 33 spoken posts that named one,
against 9 of 33 unprimed ("Brewly" came out "Truly"), with 1 false match in 67 posts naming none
(``mmstream eval --media 100``; MODEL_CARD.md, media section).
"""
from __future__ import annotations

from mmstream.settings import Settings


def brand_names(settings: Settings, limit: int = 40) -> list[str]:
    """The configured brands' display names and the spoken forms of their handles and hashtags
    (``@AcmeAir`` -> "Acme Air"), in the brands file's order, without repeats; at most ``limit``.
    Empty without a brands file (``MMSTREAM_BRANDS_FILE``); a ConfigError names a broken one."""
    if not settings.brands_file:
        return []
    from mmstream.analytics.engine.brands import BrandCatalog, spoken_forms, vocabulary  # only when a file is set

    names: dict[str, str] = {}
    for brand in BrandCatalog.load(settings.brands_file).brands:
        words = vocabulary((brand.id, brand.name, *brand.aliases))
        said = [brand.name] + [f for a in brand.aliases for f in spoken_forms(a, words)[:1]]
        for name in said:
            if name and not name.startswith(("@", "#")):
                names.setdefault(name.casefold(), name)
    return list(names.values())[:limit]
