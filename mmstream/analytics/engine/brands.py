"""Brand matching from a TOML file users write (the pipeline's enricher: :mod:`mmstream.analytics.pipeline.brands`)::

    [brands.united]
    aliases = ["@united", "united airlines", "#unitedairlines"]

    [brands.delta]                      # no aliases: the name itself is matched
    name = "Delta Air Lines"            # optional display name (shown by GET /brands)

The table key (``united``) is the brand id results carry in ``brands``.
Aliases are handles, hashtags or phrases, matched case-insensitively on word
boundaries (``united`` does not match ``reunited`` nor ``united_help``; spaces
in a phrase match any run of whitespace) in the post text and in the text read
from its images. Aliases in scripts written without spaces (Japanese, Chinese)
match anywhere. A post may match several brands; brands a post already
carries are kept, first, as sent.

Handles and hashtags are also matched in their spoken form in text read or heard
in a post's media (transcripts, captions, OCR: every text view that is not one of
the post's own keys), where nobody writes ``@`` or ``#``: ``@AmericanAir`` as
"American Air" or "AmericanAir", ``#unitedfail`` as "united fail" (see
:func:`spoken_forms`). A handle of one word (``@united``) has no spoken form: the
bare word would match ordinary speech ("united we stand"); list it as a phrase
alias when it is the brand's name.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from mmstream.errors import ConfigError

_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


#: the shortest brand word a lower-case hashtag is split on (shorter ones split ordinary words: "air" in "repair")
MIN_SPLIT_WORD = 3


@dataclass(frozen=True)
class Brand:
    id: str
    name: str
    aliases: tuple[str, ...]
    pattern: re.Pattern[str]
    #: the spoken forms of its handles and hashtags (None: none), matched in text read or heard in media
    spoken: re.Pattern[str] | None = None

    def matches(self, text: str, heard: bool = False) -> bool:
        """Whether ``text`` names the brand; ``heard``: text read or heard in media, where the
        spoken forms of its handles and hashtags count too."""
        return self.pattern.search(text) is not None or (
            heard and self.spoken is not None and self.spoken.search(text) is not None)


def word_parts(word: str) -> list[str]:
    """``word`` cut where its case changes, between letters and digits, and at anything else
    (``_``, ``-``): ``AmericanAir`` -> American, Air; ``BBCNews`` -> BBC, News; ``delta_2020`` ->
    delta, 2020. A word in one case stays whole."""
    parts: list[str] = []
    current = ""
    for i, ch in enumerate(word):
        if not ch.isalnum():
            if current:
                parts.append(current)
            current = ""
            continue
        if current:
            prev, nxt = current[-1], word[i + 1] if i + 1 < len(word) else ""
            cut = (prev.isdigit() != ch.isdigit()
                   or (prev.islower() and ch.isupper())
                   or (prev.isupper() and ch.isupper() and nxt.islower()))
            if cut:
                parts.append(current)
                current = ""
        current += ch
    if current:
        parts.append(current)
    return parts


def split_on(word: str, vocabulary: Iterable[str]) -> list[str] | None:
    """``word`` (one case, no separators) cut so that the most of it is brand words of ``vocabulary``
    (each at least :data:`MIN_SPLIT_WORD` letters, a piece of its own), then into the fewest pieces,
    the rest runs of at least two characters; None unless that gives two pieces or more, one a brand
    word. ``unitedfail`` on {united, airlines} -> united, fail; ``iloveunitedairlines`` -> ilove,
    united, airlines."""
    low = word.casefold()
    words = sorted({w for w in vocabulary if len(w) >= MIN_SPLIT_WORD and w != low}, key=len, reverse=True)
    # best[(i, last piece a brand word)]: the best cut of low[:i], as (-brand characters, pieces, the pieces)
    best: dict[tuple[int, bool], tuple[int, int, list[str]]] = {(0, True): (0, 0, [])}
    for i in range(len(low)):
        for brand_last in (True, False):
            if (i, brand_last) not in best:
                continue
            covered, n, pieces = best[(i, brand_last)]
            steps = [(w, True) for w in words if low.startswith(w, i)]
            if brand_last:  # two runs of other characters side by side are one run
                steps += [(low[i:j], False) for j in range(i + 2, len(low) + 1)]
            for piece, is_brand in steps:
                cut = (covered - len(piece) * is_brand, n + 1, pieces + [piece])
                key = (i + len(piece), is_brand)
                if key not in best or cut[:2] < best[key][:2]:
                    best[key] = cut
    ends = [best[k] for k in ((len(low), True), (len(low), False)) if k in best]
    found = min(ends, key=lambda e: e[:2], default=None)
    return found[2] if found is not None and found[0] < 0 and found[1] >= 2 else None


def vocabulary(spellings: Iterable[str]) -> set[str]:
    """The lower-case words of a brand's id, name and aliases (each cut by :func:`word_parts`)."""
    return {p.casefold() for s in spellings for w in s.split() for p in word_parts(w)}


def spoken_forms(alias: str, words: Iterable[str] = ()) -> list[str]:
    """How a handle or hashtag is said: its words apart (``@AmericanAir`` -> "American Air") and
    together without the sign ("AmericanAir"). A body in one case is split on the brand's own
    ``words`` (:func:`split_on`: ``#unitedfail`` -> "united fail"). None for a phrase, or for a body
    of one word (the bare word would match ordinary speech)."""
    if alias[:1] not in ("@", "#") or len(alias.split()) != 1:
        return []
    body = alias[1:]
    parts = word_parts(body)
    if len(parts) == 1 and parts[0].isalpha() and (parts[0].islower() or parts[0].isupper()):
        parts = split_on(parts[0], words) or parts
    if len(parts) < 2:
        return []
    joined = "".join(parts)
    return [" ".join(parts), joined] if joined.isalnum() else [" ".join(parts)]


def spoken_pattern(forms: Iterable[str]) -> str:
    """One spoken form's regex: its words apart by spaces, hyphens or the punctuation a transcript puts
    between them ("Acme, air lost my luggage"), on word boundaries."""
    return "|".join(r"(?<!\w)" + r"[\s\-,.;:!?]+".join(re.escape(w) for w in form.split()) + r"(?!\w)"
                    for form in sorted(forms, key=len, reverse=True))


def alias_pattern(alias: str) -> str:
    """Regex for one alias: word boundaries where the alias starts/ends with a
    character of a spaced script, flexible whitespace inside."""
    words = alias.split()
    body = r"\s+".join(re.escape(w) for w in words)
    before = "" if _UNSPACED.match(alias[0]) else r"(?<!\w)"
    after = "" if _UNSPACED.match(alias[-1]) else r"(?!\w)"
    return f"{before}{body}{after}"


def make_brand(brand_id: str, aliases: Iterable[str], name: str | None = None) -> Brand:
    cleaned = tuple(dict.fromkeys(a.strip() for a in aliases if a.strip())) or (brand_id,)
    ordered = sorted(cleaned, key=len, reverse=True)
    pattern = re.compile("|".join(f"(?:{alias_pattern(a)})" for a in ordered), re.IGNORECASE)
    words = vocabulary((brand_id, name or "", *cleaned))
    written = {a.casefold() for a in cleaned}
    forms = {f for a in cleaned for f in spoken_forms(a, words) if f.casefold() not in written}
    forms |= {a for a in cleaned if len(a.split()) > 1 and a[:1] not in ("@", "#")}  # heard with punctuation inside
    spoken = re.compile(spoken_pattern(forms), re.IGNORECASE) if forms else None
    return Brand(brand_id, name or brand_id, cleaned, pattern, spoken)


class BrandCatalog:
    """The configured brands, in file order."""

    def __init__(self, brands: Iterable[Brand]) -> None:
        self.brands = list(brands)
        self._ids: dict[str, str] = {}
        for b in self.brands:
            for spelling in (b.id, b.name, *b.aliases):
                self._ids.setdefault(spelling.casefold(), b.id)

    def canonical(self, brand: str) -> str:
        """The configured id ``brand`` spells, or ``brand`` itself."""
        return self._ids.get(brand.strip().casefold(), brand)

    @classmethod
    def load(cls, path: str | Path) -> "BrandCatalog":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"brands file {path} does not exist; pass --brands FILE (TOML, see README 'Brand analytics')")
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"brands file {path} is not valid TOML ({exc}); fix the syntax") from None
        return cls.from_dict(doc, str(path))

    @classmethod
    def from_dict(cls, doc: dict, where: str = "brands") -> "BrandCatalog":
        table = doc.get("brands")
        if not isinstance(table, dict) or not table:
            raise ConfigError(f"{where} has no [brands.<id>] tables; add e.g. [brands.acme] aliases = [\"@acme\"]")
        brands = []
        for brand_id, spec in table.items():
            if not isinstance(spec, dict):
                raise ConfigError(f"{where}: brands.{brand_id} must be a table with 'aliases'")
            aliases = spec.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise ConfigError(f"{where}: brands.{brand_id}.aliases must be a list of strings")
            name = spec.get("name")
            if name is not None and not isinstance(name, str):
                raise ConfigError(f"{where}: brands.{brand_id}.name must be a string")
            unknown = set(spec) - {"aliases", "name"}
            if unknown:
                raise ConfigError(f"{where}: brands.{brand_id} has unknown keys {sorted(unknown)}; use 'aliases' and 'name'")
            brands.append(make_brand(brand_id, aliases, name))
        return cls(brands)

    def match(self, texts: Iterable[str], heard: Iterable[str] = ()) -> list[str]:
        """Ids of the brands named in any of ``texts`` (a post's own text), or of ``heard`` (text read or
        heard in its media, where handles and hashtags match their spoken forms too), in catalog order."""
        texts = [t for t in texts if t]
        heard = [t for t in heard if t]
        return [b.id for b in self.brands
                if any(b.matches(t) for t in texts) or any(b.matches(t, heard=True) for t in heard)]

    def describe(self) -> list[dict]:
        return [{"brand": b.id, "name": b.name, "aliases": list(b.aliases)} for b in self.brands]
