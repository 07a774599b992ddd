"""Brand matching from a TOML file: aliases, word boundaries, OCR text, CLI."""
from __future__ import annotations

from pathlib import Path

import pytest

from mmstream.analytics.engine.brands import BrandCatalog, spoken_forms
from mmstream.analytics.pipeline.brands import BrandMatcher
from mmstream.errors import ConfigError
from mmstream.pipeline.work import WorkItem
from mmstream.plugin import Item
from support import BRANDS


@pytest.fixture
def catalog(tmp_path: Path) -> BrandCatalog:
    path = tmp_path / "brands.toml"
    path.write_text(BRANDS, encoding="utf-8")
    return BrandCatalog.load(path)


@pytest.mark.parametrize("text, expected", [
    ("Flying @United today", ["united"]),
    ("UNITED   Airlines lost my bag", ["united"]),
    ("#UnitedAirlines again!", ["united"]),
    ("#UnitedAirlinesSucks", []),  # a longer hashtag is another word
    ("@united_help please", []),
    ("we are reunited and it feels so good", []),
    ("united we stand", []),  # the bare word is not an alias of united
    ("delta or @united?", ["united", "delta"]),  # catalog order; the id is matched when there are no aliases
    ("deltas form at river mouths", []),
    ("新しいソニーのカメラ", ["sony"]),  # no word boundaries in unspaced scripts
])
def test_aliases_match_case_insensitively_on_word_boundaries(catalog, text, expected):
    assert catalog.match([text]) == expected


def item(brands: list[str], views: tuple[str, ...] = ("text", "image_text"), **values: str) -> Item:
    w = WorkItem(raw=b"{}", source=None, text_views=views)
    w.record = {"brands": brands}
    w.values = dict(values)
    return Item(w)


def test_matcher_reads_text_and_ocr_text_keeps_given_brands_and_counts_each_once(catalog):
    items = [item(["acme"], text="so slow", image_text="UNITED AIRLINES LOST MY BAG"),
             item(["Delta Air Lines", "united"], text="@united and delta, again"),
             item([], text="nothing here")]
    BrandMatcher(catalog).enrich(items)
    assert items[0].record["brands"] == ["acme", "united"]
    assert items[1].record["brands"] == ["delta", "united"]  # a configured name is written as its id
    assert items[2].record["brands"] == []


@pytest.mark.parametrize("doc, message", [
    ("brands = 3", "no \\[brands"),
    ("[brands.x]\naliases = 'x'", "list of strings"),
    ("[brands.x]\nalias = ['x']", "unknown keys"),
    ("[brands.x\n", "not valid TOML"),
])
def test_bad_brand_files_name_the_fix(tmp_path, doc, message):
    path = tmp_path / "b.toml"
    path.write_text(doc)
    with pytest.raises(ConfigError, match=message):
        BrandCatalog.load(path)


def test_missing_brand_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        BrandCatalog.load(tmp_path / "nope.toml")


@pytest.mark.parametrize("text", [
    "reunited airlines lost my bag",  # the alias "united airlines" inside a longer word
    "so reunited with my luggage",  # the bare alias "united" (below) inside "reunited"
    "REUNITED   AIRLINES",
    "disunited airlines",
])
def test_an_alias_needs_a_word_boundary_where_it_starts(tmp_path, text):
    """The start-of-word boundary: without it "reunited airlines" matches "united airlines"."""
    path = tmp_path / "brands.toml"
    path.write_text(BRANDS + '\n[brands.bare]\naliases = ["united"]\n', encoding="utf-8")
    catalog = BrandCatalog.load(path)
    assert catalog.match([text]) == []
    # the same words standing alone do match: the cases above fail on the boundary, not on the words
    assert catalog.match([text.lower().replace("reunited", "united").replace("disunited", "united")]) != []


SPOKEN = """
[brands.american]
name = "American Airlines"
aliases = ["@AmericanAir"]

[brands.united]
aliases = ["@united", "united airlines", "#unitedfail", "#flyunited"]

[brands.bbc]
aliases = ["@BBCNews", "#bbc_breakfast"]
"""


@pytest.mark.parametrize("alias, words, forms", [
    ("@AmericanAir", (), ["American Air", "AmericanAir"]),  # CamelCase
    ("@BBCNews", (), ["BBC News", "BBCNews"]),  # an acronym, then a word
    ("#bbc_breakfast", (), ["bbc breakfast", "bbcbreakfast"]),
    ("#delta2020", (), ["delta 2020", "delta2020"]),
    ("#unitedfail", {"united", "airlines"}, ["united fail", "unitedfail"]),  # one case: split on the brand's words
    ("#UNITEDFAIL", {"united"}, ["united fail", "unitedfail"]),
    ("#flyunited", {"united"}, ["fly united", "flyunited"]),
    ("#iloveunitedairlines", {"united", "airlines"}, ["ilove united airlines", "iloveunitedairlines"]),
    ("#unitedfail", (), []),  # no brand word to split on
    ("#unitedx", {"united"}, []),  # a piece of one letter is no word
    ("@united", {"united"}, []),  # one word: the bare word would match ordinary speech
    ("#repairs", {"air"}, []),
    ("united airlines", {"united"}, []),  # a phrase is said as written
])
def test_spoken_forms_of_handles_and_hashtags(alias, words, forms):
    assert spoken_forms(alias, words) == forms


@pytest.mark.parametrize("heard, expected", [
    ("I'm flying American Air tomorrow", ["american"]),
    ("americanair lost my bag", ["american"]),
    ("this is a united fail again", ["united"]),
    ("United-fail, as always", ["united"]),
    ("we fly United every week", ["united"]),
    ("watching BBC News at six", ["bbc"]),
    # ordinary speech: no spoken form in it
    ("united we stand", []),
    ("the american airline industry", []),
    ("they reunited, fail or not", []),
    ("my plans united failed", []),
    ("a breakfast at the bbc", []),
    ("the news from the bbc", []),
])
def test_spoken_forms_match_in_text_heard_or_read_in_media(tmp_path, heard, expected):
    path = tmp_path / "brands.toml"
    path.write_text(SPOKEN, encoding="utf-8")
    catalog = BrandCatalog.load(path)
    assert catalog.match([], [heard]) == expected
    assert catalog.match([heard]) == []  # a post's own text names a brand as written


def test_matcher_reads_spoken_forms_only_in_media_text(tmp_path):
    path = tmp_path / "brands.toml"
    path.write_text(SPOKEN, encoding="utf-8")
    views = ("text", "image_text", "audio_text")
    items = [item([], views, text="American Air again"),
             item([], views, text="so slow", image_text="AMERICAN AIR LOST MY BAG"),
             item([], ("text", "audio_text"), text="hm", audio_text="what a united fail")]
    BrandMatcher(BrandCatalog.load(path)).enrich(items)
    assert [i.record["brands"] for i in items] == [[], ["american"], ["united"]]


def test_a_transcript_s_punctuation_between_an_alias_words_still_names_the_brand():
    """Whisper writes "Acme, air lost my luggage" for "Acme Air lost my luggage": in text heard or read in
    media, the words of an alias may be apart by punctuation; in a post's own text they may not."""
    from mmstream.analytics.engine.brands import make_brand

    acme = make_brand("acme", ["acme air", "@acmeair"], "Acme Air")
    assert acme.matches("Acme, air lost my luggage again", heard=True)
    assert not acme.matches("Acme, air lost my luggage again")
    assert not acme.matches("the acme airline", heard=True)
