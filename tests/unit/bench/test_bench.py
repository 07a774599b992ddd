"""The benchmark's pure parts: deterministic posts, the report and the goals
(no Kafka, no timing: the figures themselves come from `mmstream bench`)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmstream.bench.driver import RESULT, Output, Phase
from mmstream.bench.posts import build_mix, describe, records
from mmstream.bench.report import check_goals, median_ratio, median_run, percentiles, ratios, table
from mmstream.bench.run import agreement
from mmstream.commands.cli import build_parser


def test_mixes_are_deterministic_and_one_post_in_five_has_an_image():
    a, b = build_mix("image", 20), build_mix("image", 20)
    assert [p.body for p in a] == [p.body for p in b]
    assert [p.index for p in a if p.image] == [4, 9, 14, 19]
    assert {p.image for p in a if p.image} == {"meme", "scene"}
    assert describe(a)["with_image"] == 4 and describe(build_mix("text", 5))["with_image"] == 0
    (post_id, raw), = records(a[4:5], "sat-")
    post = json.loads(raw)
    assert post_id == post["id"] == "sat-4" and post["images"][0]["b64"] and post["created_at"] == 1764320404


def test_later_phases_shift_their_posts_times_and_the_multilingual_mix_is_half_other_languages():
    from mmstream_text import lang

    posts = build_mix("text", 3)
    (_, first), (_, shifted) = records(posts[:1], "a-")[0], records(posts[:1], "b-", 3000)[0]
    assert json.loads(shifted)["created_at"] == json.loads(first)["created_at"] + 3000
    assert {k: v for k, v in json.loads(shifted).items() if k not in ("id", "created_at")} == \
        {k: v for k, v in json.loads(first).items() if k not in ("id", "created_at")}
    mixed = [json.loads(raw) for _, raw in records(build_mix("multilingual", 28), "m-")]
    assert all("lang" not in post for post in mixed)  # detected, not given
    detected = [lang.detect(post["text"]) for post in mixed]
    assert sum(code == "en" for code in detected[0::2]) >= 12  # TweetEval, English
    assert len({code for code in detected[1::2]} - {"en"}) >= 6  # seven languages in turn


def test_phase_throughput_and_latency_use_record_timestamps():
    phase = Phase("x", sent={"a": 10.0, "b": 10.5})
    phase.outputs = {"a": Output(RESULT, 10_100, 10.2, b"{}"), "b": Output(RESULT, 11_000, 11.1, b"{}")}
    assert phase.throughput() == 2 / 1.0
    assert sorted(phase.latencies_ms()) == [100.0, 500.0]
    assert percentiles([1, 2, 3, 4, 100])["p50"] == 3.0


def test_goals_and_table():
    mix = {"posts": {"posts": 10}, "limit": {"posts_per_s": 100.0},
           "mmstream": {"saturation": {"posts_per_s": 95.0}, "half_load": {"latency_ms": percentiles([10, 20, 300])},
                        "peak_rss_mb": 400.0},
           "peers": {"torch": {"skipped": "needs torch: pip install -e '.[train]'"}}, "notes": []}
    mix["ratios"] = ratios(mix)
    goals = check_goals({"text": mix})
    verdicts = {g["goal"]: g["pass"] for g in goals}
    assert verdicts["end to end / limit"] is True and verdicts["end to end / best per-event peer"] is None
    assert verdicts["worker peak RSS, MB"] is True and verdicts["p99 event-to-result latency at half load, ms"] is False
    result = {"mixes": {"text": mix}, "goals": goals, "seconds": 1.0,
              "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 1, "load_before": "0", "load_after": "0"}}
    assert "text-only" in table(result) and "FAIL" in table(result)


def test_repeated_runs_report_the_median_one():
    runs = [({"posts_per_s": 100.0}, {"saturation": {"posts_per_s": e2e}}) for e2e in (70.0, 90.0, 60.0, 80.0)]
    chosen, values = median_run(runs)
    assert values == [0.7, 0.9, 0.6, 0.8] and chosen == 0  # sorted 0.6 0.7 0.8 0.9: the lower middle
    assert median_run(runs[:3])[0] == 0
    failed = [({"posts_per_s": 100.0}, {"error": "warm-up: 3 of 32 posts did not come back"})] + runs[:2]
    assert median_run(failed) == (1, [None, 0.7, 0.9])  # a failed run sorts lowest, it is not the median
    mix = {"posts": {"posts": 10}, "limit": runs[0][0], "mmstream": runs[0][1], "peer": {}, "notes": [],
           "repeats": [{"e2e_vs_limit": v} for v in values]}
    mix["ratios"] = ratios(mix)
    result = {"mixes": {"text": mix}, "goals": check_goals({"text": mix}), "seconds": 1.0,
              "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 1, "load_before": "0", "load_after": "0"}}
    assert "2/1 over 4 runs: 0.70, 0.90, 0.60, 0.80" in table(result)


def test_ratios_use_the_best_limit_and_the_best_peer():
    mix = {"limit": {"posts_per_s": 500.0, "one_graph": {"posts_per_s": 700.0, "processes": 2}},
           "mmstream": {"saturation": {"posts_per_s": 630.0}},
           "peers": {"quix": {"saturation": {"posts_per_s": 600.0}}, "faust": {"saturation": {"posts_per_s": 540.0}},
                     "torch": {"saturation": {"posts_per_s": 50.0}}, "gone": {"skipped": "not installed"}}}
    r = ratios(mix)
    assert r["e2e_vs_limit"] == 0.9 and r["best_peer"] == "quix" and r["e2e_vs_best_peer"] == 1.05
    assert r["e2e_vs_torch_peer"] == 12.6
    del mix["limit"]["one_graph"], mix["peers"]["quix"]
    r = ratios(mix)
    assert r["e2e_vs_limit"] == 1.26 and r["best_peer"] == "faust" and r["e2e_vs_best_peer"] == 1.167


def test_one_graph_model_scores_as_the_pipeline(tmp_path):
    """The peers' one-graph model is built from the shipped files and gives the pipeline's labels."""
    from mmstream.bench.onegraph import OneGraph, build_one_graph, check_one_graph
    from mmstream.bench.perevent import PerEventScorer
    from mmstream.bench.posts import tweets
    from mmstream.settings import Settings

    settings = Settings.load()
    path = build_one_graph(tmp_path / "one.onnx", settings.model_dir)
    check = check_one_graph(OneGraph(path), tweets()[:100], settings)
    # identical outputs: the encoders run without SkipLayerNormFusion in both (see export_text)
    assert check["texts"] >= 90 and check["texts"] + check["other_language"] == 100
    assert check["same_argmax"] == check["texts"] and check["max_abs_diff"] <= 1e-4
    key, value = PerEventScorer(settings, path).score(json.dumps({"id": "p1", "created_at": 0,
                                                                  "text": "worst airline ever, lost my bag"}).encode())
    record = json.loads(value)
    assert key == b"p1" and record["id"] == "p1" and record["sentiment"]["label"] == "negative"


def test_agreement_and_cli():
    def out(label):
        return json.dumps({"sentiment": {"label": label}}).encode()
    assert agreement({"a": out("positive"), "b": out("neutral")}, {"a": out("positive"), "b": out("negative")}) == 0.5
    args = build_parser().parse_args(["bench", "--posts", "10", "--no-peer"])
    assert args.posts == 10 and args.no_peer and args.mixes == "text,image,multilingual" and args.repeat == 1


def test_peer_head_in_torch_matches_the_fused_onnx_model():
    """The benchmark's per-event peer runs the same fused head. It lives behind the ``train`` extra
    (torch, about 2 GB of wheels): CI installs ``.[test]`` only, so there this test is skipped by
    design and says so (tests/README.md); with ``pip install -e '.[train]'`` it runs."""
    torch = pytest.importorskip("torch", reason="the bench peer needs the train extra: pip install -e '.[train]'")
    pytest.importorskip("onnx")
    from mmstream.bench.peer import TorchHead
    from mmstream.inference.fused import FusedModel
    from mmstream.settings import Settings

    model = FusedModel(Settings.load().model_dir)
    rng = np.random.default_rng(0)
    feeds = {}
    for modality, dim in model.modalities.items():
        feeds[modality] = rng.standard_normal((2, dim)).astype(np.float32)
        feeds[f"{modality}_mask"] = np.array([[1.0], [0.0]], dtype=np.float32)
    expected = model.onnx.run(feeds)
    got = TorchHead(model.onnx.path)({k: torch.from_numpy(v) for k, v in feeds.items()})
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name].numpy(), value, rtol=1e-4, atol=1e-5, err_msg=name)  # fp32, other kernels


def test_cpu_account_splits_core_time_per_post():
    from mmstream.bench.cpu import Snapshot, account

    before = Snapshot(10.0, (100.0, 40.0), {"worker": 5.0, "broker": 1.0, "load_generator": None})
    after = Snapshot(12.0, (104.0, 40.5), {"worker": 7.9, "broker": 1.2, "load_generator": 0.1})
    used = account(before, after, 500)
    # 4 core-seconds in 2 s: 0.5 idle, worker 2.9, broker 0.2, generator unknown, other 0.4
    assert used == {"worker": 5.8, "broker": 0.4, "load_generator": None, "other": 0.8, "idle": 1.0,
                    "idle_cores": 0.25}


def test_cpu_account_reads_a_real_busy_process():
    import subprocess
    import sys

    from mmstream.bench.cpu import account, snapshot

    burn = ("import sys, time\nprint('ready', flush=True); sys.stdin.readline()\n"
            "t = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
            "print('done', flush=True); sys.stdin.readline()")
    child = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        pids = {"busy": child.pid, "gone": None}
        before = snapshot(pids)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        used = account(before, snapshot(pids), 1)
    finally:
        child.kill()
        child.wait()
    assert used["gone"] is None
    assert 280 <= used["busy"] <= 400  # ms: the 0.3 s the child burnt between the snapshots (10 ms ticks)
    assert used["idle"] is not None and used["idle_cores"] is not None


def test_cpu_budget_and_its_notes():
    from mmstream.bench.report import cpu_budget

    mix = {"posts": {"posts": 10}, "limit": {"posts_per_s": 400.0, "cpu_ms_per_post": 4.5},
           "mmstream": {"saturation": {"posts_per_s": 300.0, "cpu_ms_per_post": {
               "worker": 5.5, "broker": 0.3, "load_generator": 0.2, "other": 0.1, "idle": 0.57, "idle_cores": 0.17}}},
           "peer": {}, "notes": []}
    budget = cpu_budget(mix, cores=2)
    # 2 cores at 0.85 x 400 posts/s: 5.882 core-ms per post, 4.5 of them inference
    assert budget == {"inference": 4.5, "rest": 2.17, "rest_allowed": 1.382}
    mix["ratios"], mix["cpu_budget"] = ratios(mix), budget
    result = {"mixes": {"text": mix}, "goals": [], "seconds": 1.0,
              "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 1, "load_before": "0", "load_after": "0"}}
    text = table(result)
    assert "broker 0.30" in text and "load generator 0.20" in text and "allows 1.38" in text
    mix["mmstream"]["saturation"]["cpu_ms_per_post"].update(broker=None, other=0.4)  # a broker not measured
    assert cpu_budget(mix, cores=2)["rest"] == 2.17
    mix["mmstream"]["saturation"]["cpu_ms_per_post"]["idle"] = None  # no /proc/stat
    assert cpu_budget(mix, cores=2) is None


def test_the_peer_ratio_is_the_median_of_the_rounds_own_ratios():
    """Each round's mmstream run is compared with the peers run right after it, not with another round's."""
    assert median_ratio([1.1, None, 0.9]) == 0.9 and median_ratio([1.2, 1.0, 0.8, 1.1]) == 1.0
    assert median_ratio([]) is None and median_ratio([None]) is None
    mix = {"posts": {"posts": 10}, "limit": {"posts_per_s": 100.0}, "mmstream": {"saturation": {"posts_per_s": 80.0}},
           "peers": {"quix": {"saturation": {"posts_per_s": 70.0}}}, "notes": [],
           "repeats": [{"e2e_vs_limit": 0.8, "e2e_posts_per_s": 80.0, "best_peer_posts_per_s": 70.0,
                        "e2e_vs_best_peer": 1.143},
                       {"e2e_vs_limit": 0.7, "e2e_posts_per_s": 70.0, "best_peer_posts_per_s": 75.0,
                        "e2e_vs_best_peer": 0.933}]}
    mix["ratios"] = ratios(mix)
    result = {"mixes": {"text": mix}, "goals": check_goals({"text": mix}), "seconds": 1.0,
              "machine": {"cpus": 2, "cpu_model": "x", "memory_gb": 1, "load_before": "0", "load_after": "0"}}
    assert "2/3 round by round (each peer run right after mmstream's): 80.0/70.0=1.14, 70.0/75.0=0.93" in table(result)
