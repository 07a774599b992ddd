"""The processing pipeline shared by the Kafka worker and ``mmstream score``:
raw records in, results and dead letters out, in input order.

Per micro-batch: decode and validate every record (:meth:`Pipeline.prepare`),
then (:meth:`Pipeline.extract`) hand each modality's values
to its extractor in one call (a second round for derived modalities such as
text read from images), then (:meth:`Pipeline.finish`) run the fused model once,
build and enrich the records. One bad
post never takes the others down: failures are isolated per post.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from mmstream.errors import PostError
from mmstream.plugin.extractors import Extraction, Extractor, text_views
from mmstream.plugin.stages import Enricher, Sink, write_sinks
from mmstream.pipeline.guard import as_post_error, call_all_with_timeout, plugin_trace, to_json, unpack_extraction
from mmstream.inference.fused import FusedModel, Prediction
from mmstream.pipeline.post import Post, check_event_time, parse_json, usable_id, validate_post
from mmstream.schemas import versions as schema_versions
from mmstream.settings import Settings

MAX_ROUNDS = 3  # a post's values, what they derive, what that derives: videos -> video_frames -> video_text
PAYLOAD_KEEP_CHARS = 4096


@dataclass(frozen=True)
class Source:
    """Where a record came from in Kafka."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None = None  # the record's Kafka timestamp, epoch seconds (None: use the clock)


@dataclass
class Outcome:
    kind: str  # "result" or "dead_letter"
    record: dict[str, Any]
    data: bytes  # the record as compact UTF-8 JSON, what goes on the topic

    @property
    def key(self) -> str | None:
        return self.record.get("id")


@dataclass
class Extracted:
    """A batch after :meth:`Pipeline.extract`: its items, and the unexpected exception that
    stopped extraction (a bug; :meth:`Pipeline.finish` then redoes the items one by one)."""

    work: list["WorkItem"]
    failure: Exception | None = None


@dataclass
class WorkItem:
    raw: bytes
    source: Source | None
    post: Post | None = None
    error: PostError | None = None
    features: dict[str, np.ndarray] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)
    obj: Any = None
    prediction: Prediction | None = None
    record: dict[str, Any] | None = None
    values: dict[str, Any] = field(default_factory=dict)  # every extracted value, derived ones too
    #: the pipeline's text views (Extractor.text_views), the post's own text first
    text_views: tuple[str, ...] = ()
    done: set[str] = field(default_factory=set)  # enrichers that finished this item (a retry skips them)

    def texts(self) -> dict[str, str]:
        """The post's text by text view: its own, then text read or heard in its media."""
        return {v: t for v in self.text_views if isinstance(t := self.values.get(v), str)}


class Pipeline:
    """Built by :func:`mmstream.pipeline.build.build_pipeline` (plugins, model, every stage)."""

    def __init__(self, settings: Settings, extractors: dict[str, Extractor], model: FusedModel,
                 enrichers: Sequence[Enricher] = (), sinks: Sequence[Sink] = ()) -> None:
        self.settings = settings
        self.extractors = extractors
        self.model = model
        self.enrichers = list(enrichers)
        self.sinks = list(sinks)
        self.validators = {m: self._validator(ex) for m, ex in extractors.items()}
        #: every text view the plugins declare, the post's own text first (Extractor.text_views)
        self.text_views: tuple[str, ...] = text_views(extractors)
        self.on_stage: Callable[[str, float], None] | None = None  # per-batch stage timings (worker metrics)
        self.plugin_manager: Any = None  # set by build_pipeline

    def close(self) -> None:
        """Close every sink (once, at shutdown)."""
        for sink in self.sinks:
            sink.close()

    @staticmethod
    def _validator(extractor: Extractor) -> Callable[[str, Any], Any]:
        def validate(modality: str, value: Any) -> Any:
            try:
                return extractor.validate(modality, value)
            except PostError:
                raise
            except Exception as exc:  # a plugin bug, not the post's fault alone
                raise PostError("plugin_error", f"plugin {extractor.name!r} failed validating {modality!r}: {exc!r}",
                                f"validate:{extractor.name}", plugin_trace(exc)) from exc
        return validate

    # -- the per-batch path -------------------------------------------------
    def process(self, items: Sequence[tuple[bytes, Source | None]]) -> list[Outcome]:
        """One outcome per item, in order: :meth:`prepare` then :meth:`complete`."""
        return self.complete(self.prepare(items))

    def prepare(self, items: Sequence[tuple[bytes, Source | None]]) -> list[WorkItem]:
        """Decode and validate every record (JSON, then each modality's plugin: image
        decoding happens here). No model runs: the worker does this for batch N+1 in
        its own thread while the model works on batch N. Never raises for an item."""
        began = time.perf_counter()
        work = [WorkItem(raw, source, text_views=self.text_views) for raw, source in items]
        for w in work:
            try:
                w.obj = parse_json(w.raw, self.settings.max_payload_bytes)
                w.post = validate_post(w.obj, self.validators)
                stamp = w.source.timestamp if w.source is not None and w.source.timestamp else time.time()
                check_event_time(w.post.created_at, stamp, self.settings.max_future, self.settings.max_age)
                w.pending = dict(w.post.modalities)
            except PostError as exc:
                w.error = exc
            except Exception as exc:  # noqa: BLE001 - a bug: this post is dead-lettered, the batch goes on
                w.error = self._internal(exc)
                if w.obj is None:
                    w.obj = self._json_for_id(w.raw)
        self._timed("decode", began)
        return work

    def complete(self, work: list[WorkItem]) -> list[Outcome]:
        """Extract, fuse, build and enrich the records of prepared items; one outcome
        each, in order (:meth:`extract` then :meth:`finish`)."""
        return self.finish(self.extract(work))

    def extract(self, work: list[WorkItem]) -> Extracted:
        """The extractors' rounds over prepared items: the part of a batch that may overlap
        the next batch's (the worker runs two batches' extraction at once, so one batch's
        slowest image does not leave a core idle); it touches only the batch's own items.
        Never raises: an unexpected failure (a bug) is kept for :meth:`finish`."""
        try:
            for _ in range(MAX_ROUNDS):
                if not self._extract_round([w for w in work if w.error is None and w.pending]):
                    break
        except Exception as exc:  # noqa: BLE001 - the worker must go on; finish() isolates the culprit
            return Extracted(work, exc)
        return Extracted(work)

    def finish(self, extracted: Extracted) -> list[Outcome]:
        """Fuse, build and enrich extracted items; one outcome each, in order. Batches must
        be finished in the order they came (enrichers and sinks keep state across batches).
        An unexpected failure (a bug) is isolated like any other: the items are redone one
        by one from their records."""
        work = extracted.work
        try:
            if extracted.failure is not None:
                raise extracted.failure
            return self._finish(work)
        except Exception as exc:  # noqa: BLE001 - the worker must go on; the culprit is dead-lettered
            if len(work) > 1:
                return [self.process([(w.raw, w.source)])[0] for w in work]
            w = work[0]
            return [self._dead(WorkItem(w.raw, w.source, error=self._internal(exc), obj=self._json_for_id(w.raw)))]

    def _json_for_id(self, raw: bytes | None) -> Any:
        """The record parsed again, for a dead letter's id (None when too big or not JSON)."""
        small = raw is not None and len(raw) <= self.settings.max_payload_bytes
        return _try_json(raw) if small else None

    @staticmethod
    def _internal(exc: Exception) -> PostError:
        return PostError("internal_error", f"mmstream failed on this post ({exc!r}); report it as a bug with "
                         "this dead letter.", "internal")

    def _timed(self, stage: str, began: float) -> None:
        """This batch's time in ``stage`` since ``began``, to ``on_stage`` (the worker's metrics)."""
        if self.on_stage is not None:
            self.on_stage(stage, time.perf_counter() - began)

    def _finish(self, work: list[WorkItem]) -> list[Outcome]:
        began = time.perf_counter()
        self._predict([w for w in work if w.error is None])
        self._timed("model", began)
        for w in work:
            if w.error is None:
                w.record = self._result(w)
        self._enrich([w for w in work if w.error is None])
        outcomes = [self._outcome(w) for w in work]
        write_sinks(self.sinks, [w for w, o in zip(work, outcomes) if o.kind == "result"])
        return outcomes

    def _enrich(self, work: list[WorkItem]) -> None:
        for enricher in self.enrichers:
            if not work:
                return
            began = time.perf_counter()
            try:
                enricher.enrich(work)
            except Exception as exc:  # noqa: BLE001 - one faulty step must not stop the worker
                if len(work) > 1:  # find the culprit: retry one by one (not the items it finished)
                    for w in work:
                        if enricher.name not in w.done:
                            self._enrich_one(enricher, w)
                else:
                    work[0].error = PostError("enrich_error", f"{enricher.name!r} failed: {exc!r}", f"enrich:{enricher.name}")
                work = [w for w in work if w.error is None]
            finally:
                self._timed(f"enrich:{enricher.name}", began)

    def _enrich_one(self, enricher: Enricher, w: WorkItem) -> None:
        try:
            enricher.enrich([w])
        except Exception as exc:  # noqa: BLE001
            w.error = PostError("enrich_error", f"{enricher.name!r} failed: {exc!r}", f"enrich:{enricher.name}")

    def _extract_round(self, work: list[WorkItem]) -> bool:
        by_modality: dict[str, list[WorkItem]] = {}
        for w in work:
            for modality in w.pending:
                by_modality.setdefault(modality, []).append(w)
        derived_any = False
        # what this round derives, per item, kept apart until the round's keys are popped: another post may
        # have the same key in this round (a voice note's own audio beside the audio a video hands on)
        fresh: dict[int, dict[str, Any]] = {}
        # every pending key has an extractor: a post's keys were validated by theirs, and only keys some
        # extractor reads are handed on (the others are reported as not_read below)
        calls = [(self.extractors[m], m, [w.pending[m] for w in group]) for m, group in by_modality.items()]
        answers = dict(zip((m for _, m, _ in calls), self._run_extractors(calls)))
        for modality, group in by_modality.items():
            extractor = self.extractors[modality]
            for w, res in zip(group, answers[modality]):
                if w.error is not None:
                    continue
                try:
                    features, report, derived = unpack_extraction(res, modality)
                except Exception as exc:  # noqa: BLE001 - this value failed, or its plugin broke the contract
                    w.error = as_post_error(exc, extractor)
                    continue
                w.features.update(features)
                # a value handed on to a modality no loaded plugin reads (one disabled on purpose: the audio of a
                # video with the audio plugin off) is left unread and said so; the post goes on without it
                unread = sorted(k for k, v in derived.items() if v not in (None, "") and k not in self.extractors)
                w.reports[modality] = {**report, "not_read": unread} if unread else report
                w.values[modality] = w.pending[modality]
                for key, value in derived.items():
                    if value not in (None, "") and key not in w.features and key in self.extractors:
                        fresh.setdefault(id(w), {})[key] = value
                        derived_any = True
        for w in work:
            for modality in by_modality:
                w.pending.pop(modality, None)
            w.pending.update(fresh.get(id(w), {}))
        return derived_any

    def _run_extractors(self, calls: list[tuple[Extractor, str, list[Any]]]) -> list[list[Extraction | Exception]]:
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
        budgets = [self._budget(calls[g[0]][0]) for g in groups]
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
        return [self._checked(extractor, modality, values, firsts[i]) for i, (extractor, modality, values) in enumerate(calls)]

    def _budget(self, extractor: Extractor) -> float:
        """Seconds one call of ``extractor`` may take: its own ``timeout``, else MMSTREAM_PLUGIN_TIMEOUT."""
        return float(extractor.timeout) if extractor.timeout else self.settings.plugin_timeout

    def _run_extractor(self, extractor: Extractor, modality: str, values: list[Any],
                       timeout: float | None = None) -> list[Extraction | Exception]:
        timeout = self._budget(extractor) if timeout is None else timeout
        [(_, value, _)] = call_all_with_timeout([lambda: extractor.extract(modality, values)], timeout)
        return self._checked(extractor, modality, values, value)

    def _checked(self, extractor: Extractor, modality: str, values: list[Any], first: Any) -> list[Extraction | Exception]:
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
        budget = self._budget(extractor)
        deadline: float | None = None  # the shared budget's end, once a value hung alone
        results: list[Extraction | Exception] = []
        for value in values:
            left = budget if deadline is None else deadline - time.monotonic()
            if left <= 0:
                results.append(TimeoutError(f"not tried: the plugin hung on other values of this batch and the "
                                            f"retry's budget ({budget:g} s) is spent"))
                continue
            result = self._run_extractor(extractor, modality, [value], timeout=left)[0]
            if isinstance(result, TimeoutError) and deadline is None:
                deadline = time.monotonic() + budget
            results.append(result)
        return results

    def _predict(self, work: list[WorkItem]) -> None:
        if not work:
            return
        try:
            predictions = self.model.predict([self.model.fold_text_views(w.features, self.text_views) for w in work])
        except Exception as exc:  # noqa: BLE001 - isolate per post
            if len(work) > 1:
                for w in work:
                    self._predict([w])
                return
            work[0].error = PostError("model_error", f"the fused model failed on this post: {exc!r}", "model")
            return
        for w, prediction in zip(work, predictions):
            w.prediction = prediction

    def _outcome(self, w: WorkItem) -> Outcome:
        if w.error is None and w.record is not None:
            try:
                return Outcome("result", w.record, to_json(w.record))
            except ValueError as exc:  # NaN, a lone surrogate or an object an enricher left in the record
                w.error = PostError("enrich_error", f"the result is not JSON ({exc}); an enricher put a non-JSON "
                                    "value in it: fix that enricher.", "enrich")
        return self._dead(w)

    def _dead(self, w: WorkItem) -> Outcome:
        record = self.dead_letter(w.raw, w.error, w.source, w.obj)
        try:
            data = to_json(record)
        except ValueError:  # a plugin's detail with a lone surrogate: escape it
            data = json.dumps(record, separators=(",", ":"), default=repr).encode()
        return Outcome("dead_letter", record, data)

    def _result(self, w: WorkItem) -> dict[str, Any]:
        post = w.post
        return {
            "schema": schema_versions.RESULT,
            "id": post.id,
            "created_at": post.created_at_iso,
            "brands": post.brands,
            **_lang(post.lang, w.reports, self.text_views),
            "sentiment": w.prediction.sentiment(),
            **w.prediction.task_fields(),  # complaint {label, prob}, emotion {label, probs}
            "topics": [],
            "modalities": w.reports,
            "model": self.model.name,
        }

    def dead_letter(self, raw: bytes, error: PostError | None, source: Source | None, obj: Any = None) -> dict:
        error = error or PostError("internal", "no result and no error; report this as a bug.", "model")
        text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, (bytes, bytearray)) else str(raw)
        record: dict[str, Any] = {
            "schema": schema_versions.DEAD_LETTER,
            "id": _known_id(obj),
            "reason": error.reason,
            "detail": error.detail,
            "stage": error.stage,
            "payload": text[:PAYLOAD_KEEP_CHARS],
            "payload_truncated": len(text) > PAYLOAD_KEEP_CHARS,
        }
        if error.trace:
            record["traceback"] = error.trace
        if source is not None:
            record.update(topic=source.topic, partition=source.partition, offset=source.offset)
        return record


def _lang(given: str | None, reports: dict[str, dict[str, Any]], views: Sequence[str]) -> dict[str, Any]:
    """``lang``: the post's own when it says one, else what the text plugin detected in its
    text (or in text read or heard in its media, in the order of ``views``; a view it could
    tell the language of before one it called ``und``); ``lang_source``: given, detected or null."""
    if given:
        return {"lang": given, "lang_source": "given"}
    found = [lang for lang in (reports.get(modality, {}).get("lang") for modality in views) if lang]
    for detected in found:  # a view that names a language wins over an earlier one that could not tell ("und")
        if detected != "und":
            return {"lang": detected, "lang_source": "detected"}
    if found:
        return {"lang": found[0], "lang_source": "detected"}
    return {"lang": None, "lang_source": None}


def _known_id(obj: Any) -> str | None:
    """The id of a post that failed, when its JSON still says a usable one."""
    return usable_id(obj.get("id")) if isinstance(obj, dict) else None


def _try_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
