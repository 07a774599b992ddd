"""A data format for the analytics' state: JSON with a few tags, never pickle.

A checkpoint on a shared volume must never be a way to run code. Reading one
here builds only plain values (numbers, strings, lists, dicts, sets, numpy
arrays from raw bytes) and instances of the classes a codec is given, each under
a public *type tag* (:mod:`mmstream.analytics.state.tags`: ``"windows.spec"``, not the
class's module and name, so modules and classes can be moved and renamed without
breaking the files), made with ``object.__new__`` and filled with their saved
attributes: no constructor, no import by name, no ``__reduce__``. Anything else in
a file is an error (:class:`StateFormatError`), and the caller replays the log instead.

Tags (a JSON object whose only key, or first key, starts with ``$``):

* ``{"$t": [...]}`` tuple, ``{"$s": [...]}`` set, ``{"$q": [...], "max": n}`` deque,
  ``{"$d": [[k, v], ...]}`` dict with keys that are not plain strings, ``{"$od": ...}``
  OrderedDict, ``{"$c": ...}`` Counter (their body an object when the keys are plain strings);
* ``{"$nd": base64, "dt": dtype, "sh": shape}`` numpy array, ``{"$ns": value, "dt": dtype}`` numpy scalar;
* ``{"$o": "tag", "n": k, "v": {attributes}}`` an instance of the class of that tag, the k-th
  one written (files of the format before tags name ``module.Class`` there: :meth:`StateCodec.loads`
  takes a table from those names to tags); ``{"$r": k}`` that same instance again (identity is kept: the engine tests
  ``window.spec is self.specs[0]``).

Floats are written with ``repr`` precision (``json`` does), so a state read back is
equal, bit for bit, to the one written: a restored engine writes what one that never
stopped writes (``tests/unit/analytics/test_checkpoint.py``).
"""
from __future__ import annotations

import base64
import json
from collections import Counter, OrderedDict, deque
from typing import Any, Mapping

import numpy as np

from mmstream.errors import MMStreamError

_PLAIN = frozenset({str, int, float, bool, type(None)})
#: dtypes a saved array or scalar may have
_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


class StateFormatError(MMStreamError):
    """A state file holds something this format does not allow."""


class StateCodec:
    """Writes and reads a state whose objects are of the classes of ``tags`` (tag -> class)."""

    def __init__(self, tags: Mapping[str, type]) -> None:
        self.classes = dict(tags)
        self._names = {c: tag for tag, c in self.classes.items()}
        if len(self._names) != len(self.classes):
            raise ValueError("one tag per class")
        self._aliases: Mapping[str, str] = {}

    # -- writing ------------------------------------------------------------
    def dumps(self, value: Any) -> bytes:
        self._memo: dict[int, int] = {}
        self._alive: list[Any] = []  # keeps every numbered object alive, so no id is reused meanwhile
        try:
            return json.dumps(self.encode(value), separators=(",", ":"), ensure_ascii=False).encode()
        finally:
            self._memo, self._alive = {}, []

    def encode(self, v: Any) -> Any:  # noqa: C901 - one branch per type, flat on purpose
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, np.generic):
            return v
        if isinstance(v, np.ndarray):
            arr = np.ascontiguousarray(v)
            return {"$nd": base64.b64encode(arr.tobytes()).decode("ascii"), "dt": _dtype(arr.dtype),
                    "sh": list(arr.shape)}
        if isinstance(v, np.generic):
            return {"$ns": v.item(), "dt": _dtype(v.dtype)}
        if isinstance(v, list):
            if all(type(x) in _PLAIN for x in v):  # the common case, without a call per element
                return list(v)
            return [self.encode(x) for x in v]
        if isinstance(v, tuple):
            return {"$t": [self.encode(x) for x in v]}
        if isinstance(v, (set, frozenset)):
            return {"$s": [self.encode(x) for x in v]}  # in iteration order, as pickle does
        if isinstance(v, deque):
            return {"$q": [self.encode(x) for x in v], "max": v.maxlen}
        if isinstance(v, dict):
            plain_keys = all(type(k) is str and not k.startswith("$") for k in v)
            if plain_keys and all(type(x) in _PLAIN for x in v.values()):
                body: Any = dict(v)
            elif plain_keys:
                body = {k: self.encode(x) for k, x in v.items()}
            else:
                body = self._pairs(v)
            if isinstance(v, Counter):
                return {"$c": body}
            if isinstance(v, OrderedDict):
                return {"$od": body}
            return body if plain_keys else {"$d": body}
        name = self._names.get(type(v))
        if name is None:
            raise StateFormatError(f"cannot save a {type(v).__module__}.{type(v).__qualname__}: not a state class")
        if id(v) in self._memo:
            return {"$r": self._memo[id(v)]}
        number = self._memo[id(v)] = len(self._memo)
        self._alive.append(v)
        getstate = getattr(type(v), "__getstate__", None)
        state = v.__getstate__() if getstate is not None and getstate is not object.__getstate__ else vars(v)
        return {"$o": name, "n": number, "v": self.encode(dict(state))}

    def _pairs(self, d: dict) -> list:
        return [[self.encode(k), self.encode(x)] for k, x in d.items()]

    # -- reading ------------------------------------------------------------
    def loads(self, data: bytes, aliases: Mapping[str, str] | None = None) -> Any:
        """The state in ``data``; ``aliases`` maps the names an older format wrote for objects to tags."""
        self._objects: dict[int, Any] = {}
        self._aliases = aliases or {}
        try:
            return self.decode(json.loads(data))
        except StateFormatError:
            raise
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise StateFormatError(f"not a state document ({exc!r})") from None
        finally:
            self._objects, self._aliases = {}, {}

    def decode(self, v: Any) -> Any:  # noqa: C901
        if isinstance(v, list):
            return [self.decode(x) for x in v]
        if not isinstance(v, dict):
            return v
        tag = next(iter(v), None)
        if not (isinstance(tag, str) and tag.startswith("$")):
            return {k: self.decode(x) for k, x in v.items()}
        body = v[tag]
        if tag == "$t":
            return tuple(self.decode(x) for x in body)
        if tag == "$s":
            return {self.decode(x) for x in body}
        if tag == "$q":
            return deque((self.decode(x) for x in body), v.get("max"))
        if tag in ("$d", "$od", "$c"):
            if isinstance(body, dict):  # plain string keys
                pairs = [(k, self.decode(x)) for k, x in body.items()]
            else:
                pairs = [(self.decode(k), self.decode(x)) for k, x in body]
            return {"$d": dict, "$od": OrderedDict, "$c": Counter}[tag](dict(pairs))  # Counter(pairs) would count them
        if tag == "$nd":
            dtype = _allowed(v["dt"])
            return np.frombuffer(base64.b64decode(body), dtype=dtype).reshape(v["sh"]).copy()
        if tag == "$ns":
            return np.dtype(_allowed(v["dt"])).type(body)
        if tag == "$r":
            if body not in self._objects:
                raise StateFormatError(f"a reference to object {body!r} before it")
            return self._objects[body]
        if tag == "$o":
            cls = self.classes.get(self._aliases.get(body, body)) if isinstance(body, str) else None
            if cls is None:
                raise StateFormatError(f"the file names a type {body!r} that is not a state class")
            obj = cls.__new__(cls)
            self._objects[v["n"]] = obj
            state = self.decode(v["v"])
            if not isinstance(state, dict):
                raise StateFormatError(f"{body}: attributes must be an object")
            setstate = getattr(cls, "__setstate__", None)
            if setstate is not None:
                obj.__setstate__(state)
            else:
                obj.__dict__.update(state)
            return obj
        raise StateFormatError(f"unknown tag {tag!r}")


def _dtype(dtype: np.dtype) -> str:
    name = np.dtype(dtype).newbyteorder("=").name
    if name not in _DTYPES:
        raise StateFormatError(f"cannot save an array of {name}")
    return name


def _allowed(name: Any) -> str:
    if name not in _DTYPES:
        raise StateFormatError(f"an array of {name!r} is not allowed")
    return str(name)
