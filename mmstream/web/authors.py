"""Top authors by posts in the view, with their sentiment split: :func:`top_authors`.

From the recent mentions (the live ring: authors come from the posts, which the windows do not
keep), in the view's range and matching every filter. A post counts once for its author, whatever
the number of brands it names; posts without an author are counted apart (``anonymous``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmstream.web.view import View

LABELS = ("negative", "neutral", "positive")
TOP = 10


def top_authors(mentions: list[dict], view: "View", covered_from: int | None, top: int = TOP) -> dict:
    rows: dict[str, dict] = {}
    anonymous = 0
    for m in mentions:
        if not view.matches(m):
            continue
        author = m.get("author") or ""
        if not author:
            anonymous += 1
            continue
        row = rows.get(author)
        if row is None:
            row = rows[author] = {"author": author, "posts": 0, "labels": dict.fromkeys(LABELS, 0), "platforms": {},
                                  "last": 0}
        row["posts"] += 1
        if m["label"] in row["labels"]:
            row["labels"][m["label"]] += 1
        if m.get("platform"):
            row["platforms"][m["platform"]] = row["platforms"].get(m["platform"], 0) + 1
        row["last"] = max(row["last"], m["t"] or 0)
    ranked = sorted(rows.values(), key=lambda r: (-r["posts"], -r["last"], r["author"]))[:top]
    for row in ranked:
        row["platforms"] = sorted(row["platforms"], key=lambda p: -row["platforms"][p])[:3]
        row["negative_share"] = row["labels"]["negative"] / row["posts"]
    return {"authors": ranked, "total": len(rows), "anonymous": anonymous,
            "covered_from": covered_from // 1000 if covered_from else None}
