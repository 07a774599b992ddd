"""Every kind of bad input ends on the dead-letter topic with its reason, once;
every good post mixed with them comes out; the worker carries on.

The corpus (tests/corpus.py) is replayed through the real broker to one real
worker, with a misbehaving third-party plugin (tests/probe_plugin.py) and a
copy of the fused model that knows the plugin's modality. The same corpus also
goes through the pipeline in-process as known micro-batches, which pins down
isolation: a post that raises, hangs or breaks the model in a batch takes none
of its neighbours down.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from corpus import PLUGIN_TIMEOUT, WORKER_ENV, Case, _post, _raw, corpus, payload_of, plugin_cases
from mmstream.kafka.clients import ensure_topics
from mmstream.pipeline.build import build_pipeline
from mmstream.pipeline.core import Outcome, Pipeline
from mmstream.settings import Settings
from mmstream.worker.run import OUTPUT_TOPICS
from probe_plugin import install_probe, probe_model
from support import WorkerProcess, produce, read_outcomes


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(plugin site for PYTHONPATH, model dir knowing ``probe``)."""
    root = tmp_path_factory.mktemp("probe")
    return install_probe(root / "site"), probe_model(root / "model")


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return corpus()


def check_dead_letter(case: Case, dead: dict) -> None:
    assert (dead["reason"], dead["stage"]) == (case.reason, case.stage), (case.name, dead)
    assert dead["id"] == case.id, (case.name, dead["id"])
    # a sentence a person can act on: names what is wrong and says what to do
    assert len(dead["detail"].split()) >= 6 and dead["detail"] != dead["reason"], dead["detail"]
    assert dead["payload"] == payload_of(case.raw)
    assert dead["payload_truncated"] == (len(case.raw.decode("utf-8", "backslashreplace")) > len(dead["payload"]))


def check_outcomes(cases: list[Case], outcomes: list[Outcome]) -> None:
    for case, outcome in zip(cases, outcomes, strict=True):
        if case.reason is None:
            assert outcome.kind == "result", (case.name, outcome.record)
            assert outcome.record["id"] == case.id
        else:
            assert outcome.kind == "dead_letter", (case.name, outcome.record)
            check_dead_letter(case, outcome.record)
        assert json.loads(outcome.data) == outcome.record  # strict JSON out, whatever came in


@pytest.fixture(scope="module")
def pipeline(probe) -> Iterator[Pipeline]:
    """The worker's pipeline, in this process: plugins from their entry points (the probe's too)."""
    site, model = probe
    with pytest.MonkeyPatch.context() as patch:
        for key, value in WORKER_ENV.items():
            patch.setenv(key, value)
        patch.syspath_prepend(str(site))
        yield build_pipeline(Settings.load(model_dir=str(model)))
    sys.modules.pop("mmstream_probe", None)


def test_misbehaving_plugin_and_model_fail_alone_in_one_batch(pipeline):
    block = plugin_cases()
    outcomes = pipeline.process([(c.raw, None) for c in block])
    check_outcomes(block, outcomes)
    probe_reports = [o.record["modalities"]["probe"] for o in outcomes if o.kind == "result"]
    assert probe_reports == [{"probe": f"ok {i}", "chars": 4} for i in range(4)]


def test_a_hang_costs_its_batch_time_not_its_neighbours(pipeline):
    """The batch call overruns the budget and is abandoned; the values are retried one by one."""
    block = [c for c in plugin_cases() if c.name.startswith("probe-ok") or c.name == "plugin-hangs"]
    check_outcomes(block, pipeline.process([(c.raw, None) for c in block]))


def test_records_without_a_value(pipeline):
    outcomes = pipeline.process([(None, None), (b"", None), (b" \t", None)])
    assert [(o.kind, o.record["reason"], o.record["stage"]) for o in outcomes] == [
        ("dead_letter", "empty_payload", "decode")] * 3


def test_a_bug_on_one_post_dead_letters_that_post_only(pipeline, cases, monkeypatch):
    """The safety net under everything: an unexpected exception (a bug in mmstream, not in a
    plugin) costs the post that triggers it; the worker and the other posts go on."""
    real = pipeline._result

    def buggy(w):
        if w.post.id == "good-text-1":
            raise KeyError("a bug")
        return real(w)

    monkeypatch.setattr(pipeline, "_result", buggy)
    assert_only_dead(pipeline, cases, "good-text-1")


def test_a_bug_while_decoding_costs_only_its_post(pipeline, cases, monkeypatch):
    """The same net under the prepare stage (JSON and validation, run ahead of the model)."""
    import mmstream.pipeline.core as pipeline_module

    real = pipeline_module.validate_post

    def buggy(obj, validators):
        if obj.get("id") == "good-text-2":
            raise IndexError("a bug")
        return real(obj, validators)

    monkeypatch.setattr(pipeline_module, "validate_post", buggy)
    assert_only_dead(pipeline, cases, "good-text-2")


def assert_only_dead(pipeline, cases, culprit: str) -> None:
    """The good text posts through ``pipeline``: ``culprit`` is an internal_error dead letter, the rest results."""
    good = [c for c in cases if c.reason is None and c.id.startswith("good-text")]
    outcomes = pipeline.process([(c.raw, None) for c in good])
    assert [o.kind for o in outcomes] == ["dead_letter" if c.id == culprit else "result" for c in good]
    bad = outcomes[[c.id for c in good].index(culprit)].record
    assert (bad["reason"], bad["stage"], bad["id"]) == ("internal_error", "internal", culprit)


def test_whole_corpus_in_one_batch(pipeline, cases):
    check_outcomes(cases, pipeline.process([(c.raw, None) for c in cases]))


def test_corpus_through_the_broker(settings, probe, cases, tmp_path):
    site, model = probe
    ensure_topics(settings, [settings.topic(t) for t in OUTPUT_TOPICS], settings.partitions)
    env = {**WORKER_ENV, "PYTHONPATH": str(site), "MMSTREAM_MODEL_DIR": str(model)}
    worker = WorkerProcess(settings, tmp_path / "worker.log", extra_env=env)
    try:
        produce(settings, [c.raw for c in cases])
        results, dead = read_outcomes(settings, expected=len(cases), timeout=240)
        assert worker.alive(), worker.log()
        # still consuming afterwards
        produce(settings, [{"id": f"after-{i}", "created_at": 0, "text": f"still here {i}"} for i in range(3)])
        after = consume(settings, [settings.topic("enriched")], timeout=120,
                        until=lambda rs: {"after-0", "after-1", "after-2"} <= {r.json()["id"] for r in rs})
        assert {"after-0", "after-1", "after-2"} <= {r.json()["id"] for r in after}, worker.log()
        # read everything again: duplicates would show now
        n_bad = sum(c.reason is not None for c in cases)
        every = consume(settings, [settings.topic("dead-letter")], timeout=10, until=lambda rs: len(rs) > n_bad)
    finally:
        code = worker.stop()
    assert code == 0, worker.log()
    good = [c for c in cases if c.reason is None]
    assert set(results) == {c.id for c in good}, set(results) ^ {c.id for c in good}
    by_payload = {payload_of(c.raw): c for c in cases if c.reason is not None}
    copies = Counter(r.json()["payload"] for r in every)
    assert copies == Counter(dict.fromkeys(by_payload, 1)), "each bad post exactly once on the dead-letter topic"
    for record in every:
        value = record.json()
        case = by_payload[value["payload"]]
        check_dead_letter(case, value)
        assert record.key == (case.id.encode() if case.id else None)
        assert value["topic"] == settings.topic("posts") and value["offset"] >= 0
    for case in good:
        assert results[case.id]["sentiment"]["label"] in ("negative", "neutral", "positive")
    assert results["good-path"]["modalities"]["text"]["chars"] == len("/etc/passwd")
