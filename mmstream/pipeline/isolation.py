"""Holding plugin code (and the model) to its contract, so a misbehaving step costs the posts
it failed on and nothing else: a time budget per call, every answer checked before the
pipeline uses it, and a batch that failed as a whole retried one post at a time to find the
culprit, within bounded budgets.

* extractors: :class:`ExtractorCalls` (each extractor in its own thread within its budget;
  :func:`unpack_extraction` checks each answer, :func:`as_post_error` names the failure);
* the fused model: :func:`predict` (a failed batch retried post by post);
* enrichers: :func:`enrich` (a failed batch retried post by post, skipping the posts the
  enricher already finished).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from mmstream.errors import PostError
from mmstream.inference.fused import FusedModel
from mmstream.pipeline.outcomes import to_json
from mmstream.pipeline.work import WorkItem
from mmstream.plugin.extractors import Extraction, Extractor
from mmstream.plugin.items import Item
from mmstream.plugin.stages import Enricher

#: frames and characters a dead letter's traceback keeps (the innermost ones: where the plugin raised)
TRACE_FRAMES = 8
TRACE_CHARS = 2000

Timed = Callable[[str, float], None]  # (stage, seconds or the time it began): per-stage timings


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


class ExtractorCalls:
    """Running extractors within their budgets: an extractor's own ``timeout``, else
    MMSTREAM_PLUGIN_TIMEOUT (``default_budget``). ``on_stage`` gets each call's seconds."""

    def __init__(self, default_budget: float, on_stage: Timed | None = None) -> None:
        self.default_budget = default_budget
        self.on_stage = on_stage

    def budget(self, extractor: Extractor) -> float:
        """Seconds one call of ``extractor`` may take."""
        return float(extractor.timeout) if extractor.timeout else self.default_budget

    def run(self, calls: list[tuple[Extractor, str, list[Any]]]) -> list[list[Extraction | Exception]]:
        """Each ``(extractor, modality, values)`` call's results. Different extractors run at
        once, each in its own thread with its own budget (a post's text is encoded while its
        images are read); one extractor's modalities run one after the other, in one thread,
        within one budget."""
        by_extractor: dict[int, list[int]] = {}
        for i, (extractor, _, _) in enumerate(calls):
            by_extractor.setdefault(id(extractor), []).append(i)

        def task(indices: list[int]) -> Callable[[], list[tuple[int, Any, float]]]:
            def run() -> list[tuple[int, Any, float]]:
                done = []
                for i in indices:
                    extractor, modality, values = calls[i]
                    began = time.perf_counter()
                    try:
                        done.append((i, extractor.extract(modality, values), time.perf_counter() - began))
                    except Exception as exc:  # noqa: BLE001 - isolated below, like a timeout
                        done.append((i, exc, time.perf_counter() - began))
                return done
            return run

        groups = list(by_extractor.values())
        budgets = [self.budget(calls[g[0]][0]) for g in groups]
        firsts: dict[int, Any] = {}
        for indices, (ok, value, _) in zip(groups, call_all_with_timeout([task(g) for g in groups], budgets)):
            if ok:
                for i, result, took in value:
                    firsts[i] = result
                    if self.on_stage is not None:
                        self.on_stage(f"extract:{calls[i][0].name}", took)
            else:  # the whole group timed out (or the task itself broke): each of its calls is retried
                for i in indices:
                    firsts[i] = value
        return [self._checked(extractor, modality, values, firsts[i])
                for i, (extractor, modality, values) in enumerate(calls)]

    def run_one(self, extractor: Extractor, modality: str, values: list[Any],
                timeout: float | None = None) -> list[Extraction | Exception]:
        timeout = self.budget(extractor) if timeout is None else timeout
        [(_, value, _)] = call_all_with_timeout([lambda: extractor.extract(modality, values)], timeout)
        return self._checked(extractor, modality, values, value)

    def _checked(self, extractor: Extractor, modality: str, values: list[Any],
                 first: Any) -> list[Extraction | Exception]:
        """``first``, what one call over ``values`` returned or raised, when it is a result per
        value; else (a timeout, a fault, a wrong count) the values again one by one, so only
        the culprit fails."""
        if not isinstance(first, BaseException):
            if isinstance(first, (list, tuple)) and len(first) == len(values):
                return list(first)
            got = len(first) if isinstance(first, (list, tuple)) else type(first).__name__
            first = RuntimeError(f"returned {got} results for {len(values)} values")
        if len(values) == 1:
            return [first]
        return self._one_by_one(extractor, modality, values)

    def _one_by_one(self, extractor: Extractor, modality: str, values: list[Any]) -> list[Extraction | Exception]:
        """The batch failed as a whole: retry one by one so only the culprit fails. The
        first value that hangs on its own gets a full budget; every value after it shares
        one more budget (those left when it is spent are not tried). A batch costs at most
        three budgets, whatever its size, even when the plugin hangs on every value."""
        budget = self.budget(extractor)
        deadline: float | None = None  # the shared budget's end, once a value hung alone
        results: list[Extraction | Exception] = []
        for value in values:
            left = budget if deadline is None else deadline - time.monotonic()
            if left <= 0:
                results.append(TimeoutError(f"not tried: the plugin hung on other values of this batch and the "
                                            f"retry's budget ({budget:g} s) is spent"))
                continue
            result = self.run_one(extractor, modality, [value], timeout=left)[0]
            if isinstance(result, TimeoutError) and deadline is None:
                deadline = time.monotonic() + budget
            results.append(result)
        return results


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
    return PostError("plugin_error", f"plugin {name!r} raised {exc!r}; the post was set aside, fix the plugin or the "
                     "input.", f"extract:{name}", plugin_trace(exc))


def predict(model: FusedModel, work: list[WorkItem], text_views: Sequence[str]) -> None:
    """The model's prediction for each of ``work``; when the batch fails, post by post, so only
    the culprit is dead-lettered (stage ``model``)."""
    if not work:
        return
    try:
        predictions = model.predict([model.fold_text_views(w.features, text_views) for w in work])
    except Exception as exc:  # noqa: BLE001 - isolate per post
        if len(work) > 1:
            for w in work:
                predict(model, [w], text_views)
            return
        work[0].error = PostError("model_error", f"the fused model failed on this post: {exc!r}", "model")
        return
    for w, prediction in zip(work, predictions):
        w.prediction = prediction


def enrich(enrichers: Sequence[Enricher], work: list[WorkItem], views: list[Item], timed: Timed) -> None:
    """Run each enricher over the posts still standing, in order; an enricher gets ``views``,
    the read-only items over ``work``. When one raises on a batch, its posts are retried one by
    one (not those it finished: ``done``) to find the culprit, which is dead-lettered at stage
    ``enrich:<name>`` and left out of the later enrichers. ``timed(stage, began)`` after each."""
    pairs = list(zip(work, views))
    for enricher in enrichers:
        if not pairs:
            return
        began = time.perf_counter()
        try:
            enricher.enrich([view for _, view in pairs])
        except Exception as exc:  # noqa: BLE001 - one faulty step must not stop the worker
            if len(pairs) > 1:  # find the culprit: retry one by one (not the items it finished)
                for w, view in pairs:
                    if enricher.name not in w.done:
                        _enrich_one(enricher, w, view)
            else:
                pairs[0][0].error = _enrich_error(enricher, exc)
            pairs = [(w, view) for w, view in pairs if w.error is None]
        finally:
            timed(f"enrich:{enricher.name}", began)


def _enrich_one(enricher: Enricher, w: WorkItem, view: Item) -> None:
    try:
        enricher.enrich([view])
    except Exception as exc:  # noqa: BLE001
        w.error = _enrich_error(enricher, exc)


def _enrich_error(enricher: Enricher, exc: Exception) -> PostError:
    return PostError("enrich_error", f"{enricher.name!r} failed: {exc!r}", f"enrich:{enricher.name}")
