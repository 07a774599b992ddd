"""Lanes: light and heavy work apart, so a text post's latency does not depend on media load
(docs/architecture.md, "Lanes").

* the **text lane** reads ``<prefix>posts`` in micro-batches; a post carrying a value of a modality
  whose extractor declares ``lane = "media"`` is not extracted there: its record is written to
  ``<prefix>media`` keyed by post id, and the input offset is committed once that routing record is
  acknowledged (:mod:`mmstream.lanes.routing`);
* the **media lane** reads ``<prefix>media`` in its own consumer group (``<app id>-media``), at most
  one record in flight per partition and ``MMSTREAM_MEDIA_CONCURRENCY`` in all, each within its
  extractors' own time budgets, and writes the post's one outcome (:mod:`mmstream.lanes.media`).

``mmstream worker`` runs both (``--lanes all``); ``--lanes text`` / ``--lanes media`` run one.
"""
from __future__ import annotations

from typing import Any

from mmstream.errors import ConfigError

#: what ``MMSTREAM_LANES`` / ``--lanes`` may say, and the lanes each runs
ROLES: dict[str, frozenset[str]] = {
    "all": frozenset({"text", "media"}),
    "text": frozenset({"text"}),
    "media": frozenset({"media"}),
    "inline": frozenset({"inline"}),  # no routing: every post in its partition's micro-batch (before lanes)
}


def parse_role(value: str | None) -> str:
    """The role named by ``value`` (``all`` when empty); ConfigError naming the choices."""
    role = (value or "all").strip().lower()
    if role in ("text,media", "media,text"):
        role = "all"
    if role not in ROLES:
        raise ConfigError(f"MMSTREAM_LANES / --lanes {value!r} is not one of {', '.join(ROLES)}; "
                          "e.g. --lanes text for a worker that reads only the posts topic")
    return role


def media_group(app_id: str) -> str:
    """The media lane's consumer group: its own, so it is scaled (and lags) apart from the text lane."""
    return f"{app_id}-media"


def media_plugins(settings: Any) -> frozenset[str]:
    """``MMSTREAM_MEDIA_PLUGINS``: plugins whose modalities go to the media lane besides those declaring it."""
    return frozenset(n.strip() for n in settings.media_plugins.split(",") if n.strip())
