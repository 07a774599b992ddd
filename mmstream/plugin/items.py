"""What an enricher or a sink is handed for each post: an :class:`Item`, a read-only view of
the post on its way through the pipeline.

Why a view: the engine's own per-post state (``mmstream.pipeline.work.WorkItem``) holds what only
the engine may change (the post's error, the pending values, the retry bookkeeping); a plugin
that changed it could silently break another post's outcome or a retry. An item shows what
enrichers and sinks read (the post, its extracted values and text, the model's prediction, the
result so far) and lets an enricher do the one thing it is for, through one door:
:meth:`Item.add` puts a key in the result.

Nothing an item hands out can change the engine's item: the result (``item.record``) is a
read-only copy, made again after each :meth:`~Item.add` (its dicts and lists refuse changes, and
say to use ``item.add``); ``values`` and ``features`` are read-only mappings, the feature
vectors read-only arrays; the post is a frozen :class:`PostView`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from mmstream.inference.fused import Prediction
    from mmstream.pipeline.work import Source, WorkItem

READ_ONLY = "an item's result is read-only: put a key in it with item.add(key, value)"


@dataclass(frozen=True)
class PostView:
    """The post as it came, validated: ``modalities`` are its own values by key (``text``, ``images``
    ...), each as its plugin's ``validate`` returned it."""

    id: str
    created_at: datetime
    modalities: Mapping[str, Any]
    lang: str | None = None
    author: str | None = None
    platform: str | None = None
    brands: tuple[str, ...] = ()


class Item:
    """One post, read-only, as enrichers and sinks see it.

    * ``id``: the post's id; ``post``: a :class:`PostView` (None only for a post that never
      decoded, which no enricher or sink is handed); ``source``: where its record came from in
      Kafka (``topic``, ``partition``, ``offset``, ``timestamp``; None off Kafka);
    * ``values``: every extracted value by modality, derived ones too (``image_text``,
      ``audio_text`` ...); ``texts()``: the post's text by text view, its own first, then text
      read or heard in its media; ``text_views``: every text view the loaded plugins declare;
    * ``features``: the feature vectors by name; ``prediction``: the fused model's output
      (``probs``, ``topics``, ``topic_thresholds`` ...);
    * ``record``: the result so far (what the enriched topic gets, once every enricher ran);
    * ``add(key, value)``: an enricher's output, put in the result (a JSON value);
    * ``done``, ``mark_done(name)``: the enrichers that finished this post (an enricher that
      overrides ``enrich`` marks each post it finished, so a retry after a failure skips it).
    """

    __slots__ = ("_work", "_record", "_post", "_features")

    def __init__(self, work: "WorkItem") -> None:
        object.__setattr__(self, "_work", work)
        object.__setattr__(self, "_record", None)
        object.__setattr__(self, "_post", None)
        object.__setattr__(self, "_features", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"an item is read-only (setting {name!r}): put a key in the result with "
                             "item.add(key, value)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"an item is read-only (deleting {name!r})")

    def __repr__(self) -> str:
        return f"Item({self.id!r})"

    # -- the post ------------------------------------------------------------
    @property
    def id(self) -> str | None:
        post = self._work.post
        return post.id if post is not None else None

    @property
    def post(self) -> PostView | None:
        if self._post is None and self._work.post is not None:
            p = self._work.post
            object.__setattr__(self, "_post", PostView(p.id, p.created_at, MappingProxyType(p.modalities), p.lang,
                                                       p.author, p.platform, tuple(p.brands)))
        return self._post

    @property
    def source(self) -> "Source | None":
        return self._work.source  # frozen

    # -- what was extracted and predicted -------------------------------------
    @property
    def values(self) -> Mapping[str, Any]:
        return MappingProxyType(self._work.values)

    @property
    def text_views(self) -> tuple[str, ...]:
        return tuple(self._work.text_views)

    def texts(self) -> dict[str, str]:
        """The post's text by text view: its own, then text read or heard in its media."""
        return self._work.texts()

    @property
    def features(self) -> Mapping[str, np.ndarray]:
        if self._features is None:
            object.__setattr__(self, "_features", MappingProxyType(
                {name: _read_only_array(vector) for name, vector in self._work.features.items()}))
        return self._features

    @property
    def prediction(self) -> "Prediction | None":
        return self._work.prediction

    # -- the result ------------------------------------------------------------
    @property
    def record(self) -> Mapping[str, Any]:
        """The result so far, read-only (a JSON object: ``dict(item.record)`` is a plain copy)."""
        if self._record is None:
            object.__setattr__(self, "_record", frozen(self._work.record or {}))
        return self._record

    def add(self, key: str, value: Any) -> None:
        """Put ``key`` in the result (replacing what an earlier step put there, in its place;
        a new key goes last). ``value`` must be JSON (a dict, list, str, number, bool or None; no
        NaN): a result that is not is dead-lettered ``enrich_error``."""
        if not isinstance(key, str):
            raise TypeError(f"a result key is a string, not a {type(key).__name__}")
        if self._work.record is None:
            raise RuntimeError("this item has no result to add to")
        self._work.record[key] = value
        object.__setattr__(self, "_record", None)

    # -- retries -----------------------------------------------------------------
    @property
    def done(self) -> frozenset[str]:
        """The names of the enrichers that finished this post."""
        return frozenset(self._work.done)

    def mark_done(self, enricher: str) -> None:
        """Say that the enricher named ``enricher`` finished this post: a retry skips it here."""
        self._work.done.add(enricher)


class FrozenDict(dict):
    """A dict that refuses changes (a read-only copy of part of a result)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(READ_ONLY)

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore

    def __reduce__(self) -> Any:  # a copy or a pickle is a plain dict again
        return dict, (dict(self),)

    def __deepcopy__(self, memo: dict) -> dict:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}


class FrozenList(list):
    """A list that refuses changes (a read-only copy of part of a result)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(READ_ONLY)

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse  # type: ignore

    def __reduce__(self) -> Any:  # a copy or a pickle is a plain list again
        return list, (list(self),)

    def __deepcopy__(self, memo: dict) -> list:
        return [copy.deepcopy(v, memo) for v in self]


def frozen(value: Any) -> Any:
    """A read-only deep copy of a JSON-like value: dicts and lists (tuples too) that refuse changes."""
    if isinstance(value, dict):
        return FrozenDict((k, frozen(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return FrozenList(frozen(v) for v in value)
    return value


def _read_only_array(vector: Any) -> Any:
    if isinstance(vector, np.ndarray):
        view = vector.view()
        view.flags.writeable = False
        return view
    return vector

