"""Keyword search over the recent mentions (the live ring), server-side: :func:`search`.

Literal and case-insensitive: the box's text is a plain substring (no pattern language, no
operators), compared case-folded with a post's text and the text read or heard in its media.
The mentions searched are those in the view's range that match its filters; newest first, at
most :data:`SHOWN` returned, with the number that matched.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmstream.web.view import View

SHOWN = 25
FIELDS = ("text", "ocr_text")


def matches(mention: dict, needle: str) -> bool:
    """``needle`` (already case-folded) in the mention's text or media text."""
    return any(needle in (mention.get(f) or "").casefold() for f in FIELDS)


def search(mentions: list[dict], view: "View", covered_from: int | None) -> dict | None:
    """The search panel of ``view`` over ``mentions`` (the ring's, in range); None without a query."""
    if not view.q:
        return None
    needle = view.q.casefold()
    found = [m for m in mentions if view.matches(m) and matches(m, needle)]
    found.sort(key=lambda m: m["t"] or 0, reverse=True)
    return {"q": view.q, "total": len(found), "searched": sum(1 for m in mentions if view.matches(m)),
            "mentions": found[:SHOWN], "covered_from": covered_from // 1000 if covered_from else None}
