"""A plugin that hangs costs a batch a bounded time: the batch's budget, then the first
value that hangs alone gets its own, and the rest share one more: at most three budgets
whatever the batch size (it was batch size + 1). Enricher retries never run an item twice."""
from __future__ import annotations

import json
import threading
import time

import pytest

from mmstream.pipeline.build import build_pipeline
from mmstream.plugin import Enricher, Extraction, Extractor, WorkerContext, hookimpl
from mmstream.settings import Settings


BUDGET = 0.4
release = threading.Event()  # lets the abandoned threads end with the test module


class Hangs(Extractor):
    name = "hangs"
    modalities = ("hangs",)

    def extract(self, modality, values):
        if any(v == "hang" for v in values):
            release.wait(60)
        return [Extraction(report={"value": v}) for v in values]


class Plugin:
    name = "hangs-plugin"

    @hookimpl
    def register_extractors(self):
        return [Hangs()]


@pytest.fixture(scope="module")
def pipeline():
    # its own pipeline (not the session's): a test plugin that hangs, and a budget of BUDGET seconds
    yield build_pipeline(Settings.load(plugin_timeout=BUDGET), plugins=[Plugin()])
    release.set()


def run(pipeline, values):
    raws = [(json.dumps({"id": f"p{i}", "created_at": 0, "hangs": v}).encode(), None) for i, v in enumerate(values)]
    started = time.monotonic()
    outcomes = pipeline.process(raws)
    return outcomes, time.monotonic() - started


def test_a_plugin_that_hangs_on_every_value_costs_three_budgets_not_the_batch_size(pipeline):
    outcomes, took = run(pipeline, ["hang"] * 12)
    assert [o.record["reason"] for o in outcomes] == ["plugin_timeout"] * 12
    assert all(o.record["stage"] == "extract:hangs" for o in outcomes)
    assert took < 3 * BUDGET + 0.5, f"{took:.2f} s for 12 hanging values with a {BUDGET} s budget"
    assert "not tried" in outcomes[-1].record["detail"]


def test_one_hang_costs_two_budgets_and_its_neighbours_succeed(pipeline):
    outcomes, took = run(pipeline, ["a", "b", "hang", "c", "d"])
    assert [o.kind for o in outcomes] == ["result", "result", "dead_letter", "result", "result"]
    assert 2 * BUDGET * 0.95 <= took < 2 * BUDGET + 0.5


def test_enricher_retry_runs_each_item_once():
    seen: list[str] = []

    class Counter(Enricher):
        name = "counter"

        def enrich_item(self, item):
            if item.post.id == "p2":
                raise RuntimeError("boom")
            seen.append(item.post.id)  # a side effect, like the topic miner's counts

    class CounterPlugin:
        name = "counter-plugin"

        @hookimpl
        def register_enrichers(self):
            return [Counter()]

    pipeline = build_pipeline(Settings.load(), plugins=[CounterPlugin()])  # its own: a test enricher that fails
    raws = [(json.dumps({"id": f"p{i}", "created_at": 0, "text": f"post number {i}"}).encode(), None) for i in range(5)]
    outcomes = pipeline.process(raws)
    assert sorted(seen) == ["p0", "p1", "p3", "p4"]  # p0 and p1 ran before the fault: not again
    assert [o.kind for o in outcomes] == ["result", "result", "dead_letter", "result", "result"]
    assert outcomes[2].record["stage"] == "enrich:counter" and "boom" in outcomes[2].record["detail"]


def test_the_topic_miner_counts_a_post_once_when_its_enricher_is_retried(monkeypatch):
    from mmstream.analytics.pipeline.assign import TopicAssigner

    # its own pipeline, not the session's: the test patches its topic assigner and feeds its miner
    pipeline = build_pipeline(Settings.load())
    assigner = next(e for e in pipeline.enrichers if isinstance(e, TopicAssigner))
    observed: list[str] = []
    original_observe = assigner.miner.observe

    def observe(post_id, *args, **kwargs):
        observed.append(post_id)
        return original_observe(post_id, *args, **kwargs)

    original_categories = assigner._categories

    def categories(item):
        if item.post.id == "p3":
            raise RuntimeError("a fault in the assigner")
        return original_categories(item)

    monkeypatch.setattr(assigner.miner, "observe", observe)
    monkeypatch.setattr(assigner, "_categories", categories)
    raws = [(json.dumps({"id": f"p{i}", "created_at": i, "text": f"the coffee here is great {i}"}).encode(), None)
            for i in range(6)]
    outcomes = pipeline.process(raws)
    assert [o.kind for o in outcomes].count("dead_letter") == 1 and outcomes[3].record["stage"] == "enrich:topics"
    assert sorted(observed) == ["p0", "p1", "p2", "p4", "p5"]  # each once (the old retry observed p0-p2 twice)


def test_the_per_event_path_never_calls_a_hook(mmstream_pipeline):
    import pluggy

    pipeline = mmstream_pipeline
    called: list[str] = []
    original = pluggy.HookCaller.__call__

    def spy(self, *args, **kwargs):
        if self.name in pipeline.plugin_manager.hook.__dict__:  # an mmstream hook (pytest's own use pluggy too)
            called.append(self.name)
        return original(self, *args, **kwargs)

    pluggy.HookCaller.__call__ = spy
    try:
        pipeline.plugin_manager.hook.register_sinks(settings=pipeline.settings, context=WorkerContext(pipeline.settings))
        assert called == ["register_sinks"]  # the spy sees a hook call
        called.clear()
        outcomes = pipeline.process([(json.dumps({"id": "p", "created_at": 0, "text": "still fine"}).encode(), None),
                                     (b"{}", None)])
    finally:
        pluggy.HookCaller.__call__ = original
    assert [o.kind for o in outcomes] == ["result", "dead_letter"]
    assert called == []


# -- one round's extractors run at once ------------------------------------------------------------

handshake = threading.Event()


class Waits(Extractor):
    """Answers only once :class:`Signals` has run: sequential extraction would time it out."""

    name = "waits"
    modalities = ("waits",)

    def extract(self, modality, values):
        met = handshake.wait(5 * BUDGET)
        return [Extraction(report={"met": met}) for _ in values]


class Signals(Extractor):
    name = "signals"
    modalities = ("signals",)

    def extract(self, modality, values):
        handshake.set()
        return [Extraction(report={"signalled": True}) for _ in values]


class PairPlugin:
    name = "pair-plugin"

    @hookimpl
    def register_extractors(self):
        return [Waits(), Signals()]


def test_extractors_of_one_round_run_at_once():
    """A post's modalities go to their extractors at the same time (its text is encoded
    while its images are read), each still held to its own budget."""
    # its own pipeline: test extractors that wait for each other, a budget of 10 x BUDGET
    pipeline = build_pipeline(Settings.load(plugin_timeout=10 * BUDGET), plugins=[PairPlugin()])
    raw = json.dumps({"id": "p", "created_at": 0, "waits": "w", "signals": "s"}).encode()
    [outcome] = pipeline.process([(raw, None)])
    assert outcome.kind == "result", outcome.record
    assert outcome.record["modalities"]["waits"]["met"] is True


def test_a_hanging_extractor_does_not_hold_up_the_other_of_its_round(pipeline):
    # its own pipeline: the hanging test plugin beside the pair, a budget of BUDGET
    both = build_pipeline(Settings.load(plugin_timeout=BUDGET), plugins=[Plugin(), PairPlugin()])
    handshake.clear()
    raw = json.dumps({"id": "p", "created_at": 0, "hangs": "hang", "signals": "s"}).encode()
    started = time.monotonic()
    [outcome] = both.process([(raw, None)])
    assert outcome.record["reason"] == "plugin_timeout" and outcome.record["stage"] == "extract:hangs"
    assert handshake.is_set()  # the other extractor ran, beside the hanging one
    assert time.monotonic() - started < 2 * BUDGET + 0.5
