"""The benchmark's figures as a table and the goals of issue #16 checked."""
from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from mmstream.bench.posts import MIX_LABELS

#: (name, figure path, comparison, target, mixes it applies to)
GOALS: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("end to end / best per-event peer", "ratios.e2e_vs_best_peer", ">=", 1.0, ("text", "image")),
    ("end to end / limit", "ratios.e2e_vs_limit", ">=", 0.85, ("text",)),
    ("p99 event-to-result latency at half load, ms", "mmstream.half_load.latency_ms.p99", "<=", 100.0, ("text",)),
    ("p99 event-to-result latency at half load, ms", "mmstream.half_load.latency_ms.p99", "<=", 250.0, ("image",)),
    ("worker peak RSS, MB", "mmstream.peak_rss_mb", "<=", 450.0, ("text", "image")),
    # issue #12: the multilingual path
    ("end to end, posts/s", "mmstream.saturation.posts_per_s", ">=", 200.0, ("multilingual",)),
    # issue #30: 40 % retweets, the content cache's case
    ("end to end / best per-event peer", "ratios.e2e_vs_best_peer", ">=", 1.2, ("retweets",)),
)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, max and mean of ``values`` (ms), rounded to 0.1."""
    arr = np.asarray(values, dtype=np.float64)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1),
            "max": round(float(arr.max()), 1), "mean": round(float(arr.mean()), 1), "n": int(arr.size)}


def dig(obj: Any, path: str) -> Any:
    """``obj["a"]["b"]`` for ``"a.b"``; None when any step is missing."""
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def best_limit(mix: dict) -> float | None:
    """The higher of the two limits: in-process replay, and the one graph in one process per core."""
    values = [v for v in (dig(mix, "limit.posts_per_s"), dig(mix, "limit.one_graph.posts_per_s")) if v]
    return max(values) if values else None


def best_peer(mix: dict) -> tuple[str | None, float | None]:
    """The fastest per-event peer measured for this mix: its name and posts/s."""
    rates = {name: dig(fig, "saturation.posts_per_s") for name, fig in (mix.get("peers") or {}).items()}
    rates = {k: v for k, v in rates.items() if v}
    if not rates:
        return None, None
    name = max(rates, key=lambda k: rates[k])
    return name, rates[name]


def ratios(mix: dict) -> dict[str, float | str | None]:
    """Headline ratios: end to end (2) over the best limit (1) and over the best per-event peer (3)."""
    e2e = dig(mix, "mmstream.saturation.posts_per_s")
    limit = best_limit(mix)
    name, peer = best_peer(mix)
    torch_peer = dig(mix, "peers.torch.saturation.posts_per_s")
    all_cores = dig(mix, "limit.all_cores_posts_per_s")
    return {"e2e_vs_limit": round(e2e / limit, 3) if e2e and limit else None,
            "best_peer": name,
            "e2e_vs_best_peer": round(e2e / peer, 3) if e2e and peer else None,
            "e2e_vs_torch_peer": round(e2e / torch_peer, 2) if e2e and torch_peer else None,
            "e2e_vs_all_cores_limit": round(e2e / all_cores, 3) if e2e and all_cores else None}


def cpu_budget(mix: dict, cores: int, goal: float = 0.85) -> dict[str, float] | None:
    """The saturation phase's core time per post beside the limit's: ``inference``
    (the limit's CPU per post), ``rest`` (everything else end to end, idle cores
    included: worker overhead, broker, load generator) and ``rest_allowed``, what
    ``rest`` may be for end to end >= ``goal`` x limit on ``cores`` cores."""
    used = dig(mix, "mmstream.saturation.cpu_ms_per_post") or {}
    inference = dig(mix, "limit.cpu_ms_per_post")
    limit = best_limit(mix)
    if used.get("other") is None or used.get("idle") is None or not inference or not limit:
        return None
    # a process not measured (None) is inside "other": the parts still add up to every core's time
    total = sum(v for k, v in used.items() if k != "idle_cores" and v is not None)
    return {"inference": round(inference, 3), "rest": round(total - inference, 3),
            "rest_allowed": round(1000 * cores / (goal * limit) - inference, 3)}


def median_run(runs: Sequence[tuple[dict, dict]]) -> tuple[int, list[float | None]]:
    """Of repeated ``(limit, end to end)`` measurements: the index of the one whose
    2/1 is the median (the lower one of an even count) and every run's 2/1."""
    values = [ratios({"limit": limit, "mmstream": e2e})["e2e_vs_limit"] for limit, e2e in runs]  # type: ignore[misc]
    order = sorted(range(len(runs)), key=lambda i: (values[i] is not None, values[i] or 0.0))
    return order[(len(order) - 1) // 2], values


def median_ratio(values: Sequence[float | None]) -> float | None:
    """The median of the measured ``values`` (the lower middle of an even count); a failed
    round (None) counts as the lowest, as in :func:`median_run`."""
    if not values:
        return None
    ordered = sorted(values, key=lambda v: (v is not None, v or 0.0))
    return ordered[(len(ordered) - 1) // 2]


def check_goals(mixes: dict[str, dict]) -> list[dict]:
    out = []
    for name, path, op, target, applies in GOALS:
        for mix in applies:
            if mix not in mixes:
                continue
            value = dig(mixes[mix], path)
            ok = None if value is None else (value >= target if op == ">=" else value <= target)
            out.append({"mix": mix, "goal": name, "value": value, "target": f"{op} {target:g}", "pass": ok})
    return out


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def table(result: dict) -> str:
    """The human-readable report: one row per mix, then the goals."""
    head = (f"{'mix':<18} {'posts':>6} {'1 limit':>9} {'pipeline':>9} {'2 e2e':>9} {'3 peer':>9} "
            f"{'2/1':>6} {'2/3':>6}  {'latency p50/p95/p99 ms @ rate':<31} {'RSS MB 2/3':>12}")
    lines = ["posts/s: 1 = the model's ceiling, no Kafka (the higher of: the worker's ONNX calls replayed in one "
             "process;", "the one-graph model back to back, one process per core), pipeline = the worker's "
             "per-batch path in one process,", "2 = mmstream end to end through the embedded broker, 3 = the best "
             "per-event peer of the same run (named below)", "", head, "-" * len(head)]
    for mix, fig in result["mixes"].items():
        lat = dig(fig, "mmstream.half_load.latency_ms") or {}
        rate = dig(fig, "mmstream.half_load.rate")
        latency = (f"{_fmt(lat.get('p50'), '.0f')}/{_fmt(lat.get('p95'), '.0f')}/{_fmt(lat.get('p99'), '.0f')}"
                   f" @ {_fmt(rate, '.0f')}/s") if lat else "-"
        name, peer = best_peer(fig)
        rss = f"{_fmt(dig(fig, 'mmstream.peak_rss_mb'), '.0f')}/{_fmt(dig(fig, f'peers.{name}.peak_rss_mb'), '.0f')}"
        lines.append(
            f"{MIX_LABELS.get(mix, mix):<18} {fig['posts']['posts']:>6} {_fmt(best_limit(fig)):>9} "
            f"{_fmt(dig(fig, 'limit.pipeline_posts_per_s')):>9} "
            f"{_fmt(dig(fig, 'mmstream.saturation.posts_per_s')):>9} "
            f"{_fmt(peer):>9} {_fmt(fig['ratios']['e2e_vs_limit'], '.2f'):>6} "
            f"{_fmt(fig['ratios']['e2e_vs_best_peer'], '.2f'):>6}  {latency:<31} {rss:>12}")
    notes = []
    for m, fig in result["mixes"].items():
        limit = fig.get("limit", {})
        if limit.get("all_cores_posts_per_s"):
            notes.append(f"{MIX_LABELS.get(m, m)}: limit on {limit['onnx_threads']} ONNX thread(s), as the worker runs; "
                         f"on all {limit['all_cores_threads']} cores {limit['all_cores_posts_per_s']:.1f} posts/s "
                         f"(2/that = {_fmt(fig['ratios'].get('e2e_vs_all_cores_limit'), '.2f')})")
        if fig.get("repeats"):
            listed = ", ".join(_fmt(r["e2e_vs_limit"], ".2f") for r in fig["repeats"])
            notes.append(f"{MIX_LABELS.get(m, m)}: 2/1 over {len(fig['repeats'])} runs: {listed}; the figures above "
                         f"are those of the median run")
            if any(r.get("e2e_vs_best_peer") is not None for r in fig["repeats"]):
                pairs = ", ".join(f"{_fmt(r.get('e2e_posts_per_s'))}/{_fmt(r.get('best_peer_posts_per_s'))}="
                                  f"{_fmt(r.get('e2e_vs_best_peer'), '.2f')}" for r in fig["repeats"])
                notes.append(f"{MIX_LABELS.get(m, m)}: 2/3 round by round (each peer run right after mmstream's): "
                             f"{pairs}; 2/3 above is their median")
        notes += cpu_notes(MIX_LABELS.get(m, m), fig)
        in_process, graph = dig(fig, "limit.posts_per_s"), dig(fig, "limit.one_graph.posts_per_s")
        if graph:
            notes.append(f"{MIX_LABELS.get(m, m)}: limit in process {_fmt(in_process)} posts/s, one graph x "
                         f"{dig(fig, 'limit.one_graph.processes')} processes {_fmt(graph)} posts/s")
        for name, peer in (fig.get("peers") or {}).items():
            if peer.get("skipped"):
                continue
            notes.append(f"{MIX_LABELS.get(m, m)}: peer {name}: {_fmt(dig(peer, 'saturation.posts_per_s'))} posts/s, "
                         f"peak RSS {_fmt(peer.get('peak_rss_mb'), '.0f')} MB, same label as mmstream for "
                         f"{_fmt(100 * peer['agreement'] if peer.get('agreement') is not None else None)}% of posts")
        notes += [f"{MIX_LABELS.get(m, m)}: {note}" for note in fig.get("notes", [])]
    if notes:
        lines += [""] + notes
    lines += ["", f"{'goal':<52} {'value':>9} {'target':>9}"]
    for g in result["goals"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[g["pass"]]
        value = _fmt(g["value"], ".2f") if isinstance(g["value"], float) else _fmt(g["value"], "")
        lines.append(f"{MIX_LABELS.get(g['mix'], g['mix']) + ': ' + g['goal']:<52} {value:>9} {g['target']:>9}"
                     f"  {verdict}")
    machine = result["machine"]
    lines += ["", f"machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gb']} GB, "
              f"load average {machine['load_before']} before, {machine['load_after']} after; "
              f"{result['seconds']:.0f} s in all"]
    return "\n".join(lines)


def cpu_notes(label: str, fig: dict) -> list[str]:
    """Where the cores' time went at saturation, per post, against the limit's."""
    used = dig(fig, "mmstream.saturation.cpu_ms_per_post")
    if not used:
        cpu = dig(fig, "mmstream.saturation.worker_cpu_ms_per_post")
        return [] if cpu is None else [f"{label}: worker CPU {cpu:.2f} ms/post at saturation"]
    names = {"worker": "worker", "broker": "broker", "load_generator": "load generator", "other": "other",
             "idle": "idle"}
    parts = ", ".join(f"{names[k]} {_fmt(used.get(k), '.2f')}" for k in names)
    notes = [f"{label}: core-ms per post at saturation: {parts}; raw inference "
             f"{_fmt(dig(fig, 'limit.cpu_ms_per_post'), '.2f')}"]
    budget = fig.get("cpu_budget")
    if budget:
        notes.append(f"{label}: besides inference, end to end took {budget['rest']:.2f} core-ms per post; "
                     f"2/1 >= 0.85 allows {budget['rest_allowed']:.2f} on these cores")
    return notes


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2, default=str)
