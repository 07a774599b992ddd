"""The schema version every record mmstream writes carries in its ``schema``
field, per topic (name after the prefix). No imports: the pipeline and the
analytics stamp records with these; ``mmstream/schemas/<topic>.json`` holds
the same string as the ``schema`` property's ``const`` (a test checks)."""
from __future__ import annotations

#: topic -> the version string of its records, "mmstream.<topic>/<major>"
VERSIONS: dict[str, str] = {
    "enriched": "mmstream.enriched/1",
    "dead-letter": "mmstream.dead-letter/1",
    "brand-stats": "mmstream.brand-stats/1",
    "late": "mmstream.late/1",
    "topics": "mmstream.topics/1",
    "alerts": "mmstream.alerts/1",
}

RESULT = VERSIONS["enriched"]
DEAD_LETTER = VERSIONS["dead-letter"]


def split(version: str) -> tuple[str, int]:
    """``"mmstream.enriched/1"`` -> ``("enriched", 1)``; ValueError when malformed."""
    name, sep, major = version.rpartition("/")
    if not sep or not name.startswith("mmstream.") or not major.isdigit():
        raise ValueError(f"{version!r} is not a schema version like 'mmstream.enriched/1'")
    return name[len("mmstream."):], int(major)
