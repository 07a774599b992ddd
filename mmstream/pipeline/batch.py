"""The processing pipeline shared by the Kafka worker and ``mmstream score``:
raw records in, results and dead letters out, in input order.

Per micro-batch: decode and validate every record (:meth:`Pipeline.prepare`),
then (:meth:`Pipeline.extract`) hand each modality's values
to its extractor in one call (a second round for derived modalities such as
text read from images), then (:meth:`Pipeline.finish`) run the fused model once,
build and enrich the records. One bad post never takes the others down: failures
are isolated per post (:mod:`mmstream.pipeline.isolation`); what goes out is built
in :mod:`mmstream.pipeline.outcomes`.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from mmstream.errors import PostError
from mmstream.inference.fused import FusedModel
from mmstream.pipeline import isolation, outcomes
from mmstream.pipeline.isolation import ExtractorCalls, as_post_error, plugin_trace, unpack_extraction
from mmstream.pipeline.outcomes import Outcome
from mmstream.pipeline.post import check_event_time, parse_json, validate_post
from mmstream.pipeline.work import Extracted, Source, WorkItem
from mmstream.plugin.extractors import Extractor, text_views
from mmstream.plugin.items import Item
from mmstream.plugin.stages import Enricher, Sink, write_sinks
from mmstream.settings import Settings

MAX_ROUNDS = 3  # a post's values, what they derive, what that derives: videos -> video_frames -> video_text


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
                w.error = outcomes.internal_error(exc)
                if w.obj is None:
                    w.obj = outcomes.json_for_id(w.raw, self.settings.max_payload_bytes)
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
            return [outcomes.dead_outcome(w.raw, outcomes.internal_error(exc), w.source,
                                          outcomes.json_for_id(w.raw, self.settings.max_payload_bytes))]

    def _timed(self, stage: str, began: float) -> None:
        """This batch's time in ``stage`` since ``began``, to ``on_stage`` (the worker's metrics)."""
        if self.on_stage is not None:
            self.on_stage(stage, time.perf_counter() - began)

    def _finish(self, work: list[WorkItem]) -> list[Outcome]:
        began = time.perf_counter()
        isolation.predict(self.model, [w for w in work if w.error is None], self.text_views)
        self._timed("model", began)
        for w in work:
            if w.error is None:
                w.record = self._result(w)
        scored = [w for w in work if w.error is None]
        views = {id(w): Item(w) for w in scored}  # what enrichers and sinks see: read-only, with item.add
        isolation.enrich(self.enrichers, scored, [views[id(w)] for w in scored], self._timed)
        done = [outcomes.outcome_of(w) for w in work]
        write_sinks(self.sinks, [views[id(w)] for w, o in zip(work, done) if o.kind == "result"])
        return done

    def _result(self, w: WorkItem) -> dict[str, Any]:
        return outcomes.result_record(w, self.model.name, self.text_views)

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
        runner = ExtractorCalls(self.settings.plugin_timeout, self.on_stage)
        answers = dict(zip((m for _, m, _ in calls), runner.run(calls)))
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
