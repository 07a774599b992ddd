"""The campaign panel and the duplicate share per brand (issue 30's dashboard part).

* :func:`campaigns`: the coordinated campaigns among the recent mentions in the view (results
  carry ``campaign``: {id, posts, authors, first_seen}, the counts as of that post): per campaign
  its posts and distinct authors in view, the largest counts a result reported, when it began, the
  brands and the first post's text (the template), and whether a ``coordinated`` alert names it.
* :func:`duplicate_shares`: per brand of the brand table, the share of its posts that repeat an
  earlier one (``duplicate_of``): from the windows' duplicate counts, or from the mentions for a
  view filtered beyond its brand, like every other figure of the table.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmstream.web.view import View

TOP = 10


def campaigns(mentions: list[dict], view: "View", alerts: list[dict], top: int = TOP) -> list[dict]:
    alerted = {(a.get("subject") or {}).get("id") for a in alerts if a.get("kind") == "coordinated"}
    found: dict[str, dict] = {}
    for m in sorted(mentions, key=lambda m: m["t"] or 0):
        camp = m.get("campaign")
        if not camp or not view.matches(m):
            continue
        row = found.get(camp["id"])
        if row is None:
            row = found[camp["id"]] = {"id": camp["id"], "posts": 0, "authors": set(), "reported_posts": 0,
                                       "reported_authors": 0, "first_seen": camp.get("first_seen"), "last": 0,
                                       "brands": {}, "template": m.get("text") or m.get("ocr_text") or "",
                                       "alerted": camp["id"] in alerted}
        row["posts"] += 1
        if m.get("author"):
            row["authors"].add(m["author"])
        row["reported_posts"] = max(row["reported_posts"], camp.get("posts") or 0)
        row["reported_authors"] = max(row["reported_authors"], camp.get("authors") or 0)
        row["last"] = max(row["last"], m["t"] or 0)
        for b in m["brands"]:
            row["brands"][b] = row["brands"].get(b, 0) + 1
    out = sorted(found.values(), key=lambda r: (-r["posts"], -r["last"], r["id"]))[:top]
    for row in out:
        row["authors"] = len(row["authors"])
        row["brands"] = sorted(row["brands"], key=lambda b: (-row["brands"][b], b))
    return out


def duplicate_shares(table: list[dict], top: int = TOP) -> list[dict]:
    """The brands with posts, busiest first: posts, duplicates and their share (None where the windows
    carried no duplicate count)."""
    rows = [b for b in table if b["posts"]][:top]
    return [{"brand": b["brand"], "name": b["name"], "posts": b["posts"], "duplicates": b.get("duplicates"),
             "duplicate_share": b.get("duplicate_share")} for b in rows]
