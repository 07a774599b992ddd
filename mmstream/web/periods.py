"""Change against the previous period on the headline numbers: the period of the same length just
before the view's range (:func:`previous`), whether the data reaches back over it
(:func:`covered`), the headline figures of a brand table (:func:`headline`) and the change
between two of them (:func:`change`): brand mentions as a relative change (per cent), the shares
as a difference in percentage points. Pure: the snapshot computes both periods' tables from the
same source (the windows, or the mentions for a view filtered beyond its brand).

"No earlier data" (``covered`` False) when the oldest data the source holds (the earliest window,
or the ring's oldest mention) starts after the previous period's start: the period is not fully
seen, so no change is claimed for it.
"""
from __future__ import annotations

from typing import Iterable

FIGURES = ("brand_mentions", "negative_share", "complaint_share")


def previous(since: int, until: int) -> tuple[int, int]:
    """The period of the same length just before ``(since, until]``."""
    return since - (until - since), since


def covered(oldest: int | None, prev_since: int) -> bool:
    """Whether data starting at ``oldest`` (ms; None: none at all) reaches back over a period from
    ``prev_since``."""
    return oldest is not None and oldest <= prev_since


def headline(rows: Iterable[dict]) -> dict:
    """Brand mentions, negative share and complaint share of brand-table rows (the KPI tiles)."""
    rows = list(rows)
    total = sum(r["posts"] for r in rows)
    negative = sum(r["labels"]["negative"] for r in rows)
    known = sum(r["complaint_known"] for r in rows)
    return {"brand_mentions": total, "negative_share": negative / total if total else None,
            "complaint_share": sum(r["complaints"] for r in rows) / known if known else None}


def change(now: dict, before: dict | None) -> dict:
    """Per figure: ``{"pct": ...}`` for brand mentions (None when there were none before),
    ``{"pp": ...}`` for the shares (None when either side has none); all None without ``before``."""
    out: dict[str, dict] = {}
    for name in FIGURES:
        a, b = now.get(name), (before or {}).get(name)
        if name == "brand_mentions":
            out[name] = {"pct": round(100.0 * (a - b) / b, 1) if before is not None and b else None}
        else:
            out[name] = {"pp": round(100.0 * (a - b), 1) if before is not None and a is not None and b is not None
                         else None}
    return out
