"""Holding plugin code to its contract: a time budget per call, and every
answer checked before the pipeline uses it, so a misbehaving plugin costs the
posts it failed on and nothing else."""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from mmstream.errors import PostError
from mmstream.plugin.extractors import Extraction, Extractor


def call_all_with_timeout(fns: Sequence[Callable[[], Any]],
                          timeout: float | Sequence[float]) -> list[tuple[bool, Any, float]]:
    """Run every one of ``fns`` at once, each in a daemon thread with ``timeout`` s to answer
    (one figure for all, or one per call).
    Per call, in order: ``(True, its value, seconds)`` or ``(False, the exception it raised
    or a TimeoutError, seconds)``. A hung call is abandoned; the others still answer."""
    boxes: list[dict[str, Any]] = [{} for _ in fns]

    def target(fn: Callable[[], Any], box: dict[str, Any]) -> None:
        began = time.perf_counter()
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        box["seconds"] = time.perf_counter() - began

    threads = [threading.Thread(target=target, args=(fn, box), daemon=True, name="mmstream-extract")
               for fn, box in zip(fns, boxes)]
    budgets = [float(timeout)] * len(fns) if isinstance(timeout, (int, float)) else [float(t) for t in timeout]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    out: list[tuple[bool, Any, float]] = []
    for thread, box, budget in zip(threads, boxes, budgets):
        thread.join(max(0.0, began + budget - time.monotonic()))
        if thread.is_alive():
            out.append((False, TimeoutError(f"no answer within {budget:g} s"), budget))
        elif "error" in box:
            out.append((False, box["error"], box["seconds"]))
        else:
            out.append((True, box["value"], box["seconds"]))
    return out


#: frames and characters a dead letter's traceback keeps (the innermost ones: where the plugin raised)
TRACE_FRAMES = 8
TRACE_CHARS = 2000


def plugin_trace(exc: BaseException) -> str | None:
    """Where ``exc`` was raised, for a ``plugin_error`` dead letter: the innermost frames as
    ``package/module.py:line in function``, no more than :data:`TRACE_FRAMES` of them and
    :data:`TRACE_CHARS` characters. Only each file's folder and name are kept, never the host's
    absolute paths (a dead letter travels to whoever reads the topic)."""
    import traceback
    from pathlib import PurePath

    frames = traceback.extract_tb(exc.__traceback__)[-TRACE_FRAMES:]
    if not frames:
        return None
    lines = [f"{'/'.join(PurePath(f.filename).parts[-2:])}:{f.lineno} in {f.name}" for f in frames]
    lines.append(f"{type(exc).__name__}")  # the message is the detail's; it may hold paths of its own
    text = "\n".join(lines)
    return text if len(text) <= TRACE_CHARS else "..." + text[-(TRACE_CHARS - 3):]


def as_post_error(exc: Exception, extractor: Extractor | None) -> PostError:
    """The dead-letter reason for an exception out of (or about) ``extractor``."""
    if isinstance(exc, PostError):
        return exc
    name = extractor.name if extractor else "?"
    if isinstance(exc, TimeoutError):
        return PostError("plugin_timeout", f"plugin {name!r} did not answer within its time budget ({exc}); "
                         "raise MMSTREAM_PLUGIN_TIMEOUT or fix the plugin.", f"extract:{name}")
    return PostError("plugin_error", f"plugin {name!r} raised {exc!r}; the post was set aside, fix the plugin or the input.",
                     f"extract:{name}", plugin_trace(exc))


def to_json(record: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ValueError (or TypeError, re-raised as ValueError) for
    anything strict JSON cannot hold: NaN, infinity, lone surrogates, objects."""
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def unpack_extraction(res: Any, modality: str) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """One value's answer from an extractor, held to the :class:`Extraction`
    contract: finite 1-D features (one vector, named after the modality, or a
    dict of named vectors), a JSON report, a dict of derived values."""
    if isinstance(res, Exception):
        raise res
    if not isinstance(res, Extraction):
        raise TypeError(f"extract() returned a {type(res).__name__} for a value, not an Extraction or an exception")
    raw = res.features if isinstance(res.features, dict) else {} if res.features is None else {modality: res.features}
    features = {}
    for name, vector in raw.items():
        features[name] = np.asarray(vector, dtype=np.float32).reshape(-1)
        if not np.isfinite(features[name]).all():
            raise ValueError(f"extract() returned features {name!r} holding NaN or infinity")
    if not isinstance(res.report, dict) or not isinstance(res.derived, dict):
        raise TypeError("an Extraction's report and derived must be dicts")
    to_json(res.report)  # ValueError here names the plugin; later it could not
    return features, res.report, res.derived
