"""Brand matching from a TOML file users write::

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
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from mmstream.errors import ConfigError
from mmstream.plugin.stages import Enricher

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.pipeline.core import WorkItem

_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Brand:
    id: str
    name: str
    aliases: tuple[str, ...]
    pattern: re.Pattern[str]

    def matches(self, text: str) -> bool:
        return self.pattern.search(text) is not None


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
    return Brand(brand_id, name or brand_id, cleaned, pattern)


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

    def match(self, texts: Iterable[str]) -> list[str]:
        """Ids of the brands named in any of ``texts``, in catalog order."""
        texts = [t for t in texts if t]
        return [b.id for b in self.brands if any(b.matches(t) for t in texts)]

    def describe(self) -> list[dict]:
        return [{"brand": b.id, "name": b.name, "aliases": list(b.aliases)} for b in self.brands]


class BrandMatcher(Enricher):
    """Pipeline enricher: adds matched brands to ``record["brands"]``."""

    name = "brands"

    def __init__(self, catalog: BrandCatalog) -> None:
        self.catalog = catalog

    def enrich(self, items: list[WorkItem]) -> None:
        for item in items:
            assert item.record is not None
            texts = list(item.texts().values())  # the post's text, then text read or heard in its media
            brands: list[str] = []
            known: set[str] = set()
            for brand_id in [self.catalog.canonical(b) for b in item.record.get("brands") or []] + self.catalog.match(texts):
                if brand_id.casefold() not in known:
                    brands.append(brand_id)
                    known.add(brand_id.casefold())
            item.record["brands"] = brands
