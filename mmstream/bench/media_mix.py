"""The media mix (issue 28): text posts at a steady rate, with a spoken clip every few seconds, through real
workers on one embedded broker. One run; per setup of lanes:

* ``inline``: one worker, no routing (every post in its partition's micro-batch, as before lanes);
* ``all``: one worker running both lanes (the embedded default);
* ``split``: a ``--lanes text`` worker and a ``--lanes media`` worker (what deploy/ runs).

Per setup, a fresh worker (or two) and three phases, each with its own ids:

1. warm-up: text posts and one clip, sent at once; not measured (models loaded, groups joined);
2. text only: ``--rate`` text posts per second for ``--seconds``: text p50/p99 (output record timestamp
   minus produce time, as ``mmstream bench``);
3. text + media: the same text load, plus a ``--clip-seconds`` spoken clip (espeak-ng, TweetEval test tweets,
   WAV) every ``--clip-every`` seconds: text p50/p99 again, the clips' result lag (p50/p99/max), and the
   media throughput in audio seconds per wall second (clip seconds over first clip sent to last clip result),
   and per core.

Peak RSS (VmHWM) of each worker process, by role. Prints a table and the JSON (``--json FILE`` too). Timing
figures need a quiet machine: ``uptime`` is printed with them.

    python -m mmstream.bench.media_mix --setups inline,all,split --rate 40 --clip-every 2 --clip-seconds 15
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any, Sequence

SETUPS = {"inline": [("inline", "inline")], "all": [("all", "all")], "split": [("text", "text"), ("media", "media")]}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--setups", default="inline,all,split",
                   help="comma-separated: inline (before lanes), all (one worker, both lanes), split (a text and a "
                        "media worker) (default all three)")
    p.add_argument("--rate", type=float, default=40.0, help="text posts per second (default 40)")
    p.add_argument("--seconds", type=float, default=30.0, help="seconds of each measured phase (default 30)")
    p.add_argument("--clip-every", type=float, default=2.0, help="seconds between two clips (default 2)")
    p.add_argument("--clip-seconds", type=float, default=15.0, help="length of each spoken clip (default 15)")
    p.add_argument("--audio-model", default=None, help="MMSTREAM_PLUGIN_AUDIO_MODEL of the workers (default: theirs)")
    p.add_argument("--json", dest="json_path", default=None, help="also write the JSON figures to this file")


def spoken_clip(texts: Sequence[str], seconds: float, workdir: Path, index: int) -> tuple[bytes, float]:
    """A WAV of espeak-ng speaking tweets until ``seconds`` are reached; (bytes, its duration)."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("mmstream.bench.media_mix: espeak-ng is missing (apt-get install espeak-ng)")
    spoken, i = "", index
    while True:
        spoken += texts[i % len(texts)].replace("@", "") + ". "
        i += 1
        out = workdir / f"clip{index}.wav"
        subprocess.run(["espeak-ng", "-w", str(out), spoken], check=True, capture_output=True)
        with wave.open(io.BytesIO(out.read_bytes())) as w:
            duration = w.getnframes() / w.getframerate()
        if duration >= seconds or i - index > 40:
            return out.read_bytes(), duration


async def _phase(driver: Any, name: str, text: Sequence[tuple[str, bytes]], rate: float,
                 clips: Sequence[tuple[str, bytes]], clip_every: float, alive: Any) -> tuple[Any, Any]:
    from mmstream.bench.driver import Phase

    text_phase, clip_phase = Phase(name, rate=rate), Phase(name + " clips")
    start = time.monotonic() + 0.2
    await asyncio.gather(driver.send(text_phase, text, rate=rate, start=start),
                         driver.send(clip_phase, clips, rate=1 / clip_every, start=start))
    for phase in (text_phase, clip_phase):
        ids = list(phase.sent)
        phase.missing = await driver.collector.wait_for(ids, 120.0 + 20.0 * len(clips), alive)
        phase.outputs = {i: driver.collector.outputs[i] for i in ids if i in driver.collector.outputs}
    return text_phase, clip_phase


def _figures(phase: Any) -> dict:
    from mmstream.bench.report import percentiles

    out: dict = {"posts": phase.n, "missing": phase.missing, "dead_letters": phase.dead_letters}
    if phase.outputs:
        out["latency_ms"] = percentiles(phase.latencies_ms())
    return out


def measure_setup(setup: str, broker: str, texts: list[str], clips: list[tuple[bytes, float]],
                  args: argparse.Namespace, workdir: Path) -> dict:
    from mmstream.bench.driver import Driver
    from mmstream.bench.e2e import System, WorkerProcess
    from mmstream.bench.posts import EPOCH
    from mmstream.kafka.broker import free_port
    from mmstream.kafka.admin import create_topics
    from mmstream.settings import Settings

    tag = f"media-{setup}-{os.getpid()}"
    settings = Settings.load(broker=broker, topic_prefix=f"{tag}.", app_id=tag, data_dir=str(workdir / tag))
    create_topics(settings, topics=("posts", "media", "enriched", "dead-letter"))
    env = {"MMSTREAM_PLUGIN_AUDIO_MODEL": args.audio_model} if args.audio_model else {}
    workers = {role: WorkerProcess(System(role, "mmstream", ["worker", "--lanes", lanes], env),
                                   settings.replace(web_port=free_port()), workdir / f"{tag}-{role}.log")
               for role, lanes in SETUPS[setup]}

    def alive() -> bool:
        return all(w.alive() for w in workers.values())

    def post(kind: str, i: int, phase: str) -> tuple[str, bytes]:
        body: dict = {"id": f"{phase}-{kind}{i}", "created_at": EPOCH + i}
        if kind == "clip":
            body.update(text="listen", audio=[{"b64": base64.b64encode(clips[i % len(clips)][0]).decode()}])
        else:
            body["text"] = texts[i % len(texts)]
        return body["id"], json.dumps(body).encode()

    n_text = int(args.rate * args.seconds)
    n_clips = max(1, int(args.seconds / args.clip_every))
    figures: dict = {"setup": setup, "workers": {r: lanes for r, lanes in SETUPS[setup]}}

    async def run() -> None:
        driver = Driver(settings.broker, settings.topic("posts"), settings.topic("enriched"),
                        settings.topic("dead-letter"), settings.partitions)
        async with driver:
            warm = [post("text", i, "warm") for i in range(32)] + [post("clip", 0, "warm")]
            w = await driver.run("warm-up", warm, rate=None, timeout=300.0, alive=alive)
            if w.missing:
                figures["error"] = f"warm-up: {w.missing} of {w.n} posts did not come back"
                return
            text_only, _ = await _phase(driver, "text only", [post("text", i, "a") for i in range(n_text)],
                                        args.rate, [], args.clip_every, alive)
            figures["text_only"] = _figures(text_only)
            began = time.time()
            mixed, media = await _phase(driver, "text + media", [post("text", i, "b") for i in range(n_text)],
                                        args.rate, [post("clip", i, "b") for i in range(n_clips)], args.clip_every,
                                        alive)
            figures["text_with_media"] = _figures(mixed)
            figures["media"] = _figures(media)
            if media.outputs and not media.missing:
                last = max(o.ts_ms for o in media.outputs.values()) / 1000
                audio = sum(clips[i % len(clips)][1] for i in range(n_clips))
                wall = max(last - min(media.sent.values()), 1e-6)
                figures["media"]["audio_seconds"] = round(audio, 1)
                figures["media"]["audio_s_per_s"] = round(audio / wall, 2)
                figures["media"]["audio_s_per_s_per_core"] = round(audio / wall / (os.cpu_count() or 1), 2)
            figures["phase_wall_s"] = round(time.time() - began, 1)

    try:
        asyncio.run(run())
        figures["peak_rss_mb"] = {role: w.peak_rss_mb() for role, w in workers.items()}
    finally:
        for w in workers.values():
            w.stop()
    if figures.get("error"):
        figures["log_tail"] = {role: w.tail() for role, w in workers.items()}
    return figures


def run(args: argparse.Namespace) -> int:
    from mmstream.bench.posts import tweets
    from mmstream.kafka.broker import EmbeddedBroker, free_port

    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    unknown = [s for s in setups if s not in SETUPS]
    if unknown:
        raise SystemExit(f"--setups: unknown {', '.join(unknown)}; use {', '.join(SETUPS)}")
    texts = tweets()
    report: dict = {"rate": args.rate, "seconds": args.seconds, "clip_every": args.clip_every,
                    "clip_seconds": args.clip_seconds, "cpus": os.cpu_count(), "load_before": os.getloadavg(),
                    "setups": []}
    with tempfile.TemporaryDirectory(prefix="mmstream-media-mix-") as tmp:
        workdir = Path(tmp)
        clips = [spoken_clip(texts, args.clip_seconds, workdir, i * 7) for i in range(4)]
        report["clip_durations_s"] = [round(d, 1) for _, d in clips]
        with EmbeddedBroker(free_port(), log_path=workdir / "broker.log") as broker:
            for setup in setups:
                print(f"media mix: {setup} ...", file=sys.stderr, flush=True)
                report["setups"].append(measure_setup(setup, broker.url, texts, clips, args, workdir))
    report["load_after"] = os.getloadavg()
    print(table(report))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_path:
        Path(args.json_path).write_text(text + "\n")
    return 0 if not any(s.get("error") for s in report["setups"]) else 1


def table(report: dict) -> str:
    def ms(fig: dict | None, key: str) -> str:
        value = ((fig or {}).get("latency_ms") or {}).get(key)
        return f"{value:>8.0f}" if isinstance(value, (int, float)) else f"{'-':>8}"

    lines = [f"media mix: text {report['rate']:g}/s, a {report['clip_seconds']:g} s clip every "
             f"{report['clip_every']:g} s, {report['seconds']:g} s a phase; load {report['load_before'][0]:.1f}",
             f"{'setup':<8}{'text p50':>9}{'p99':>8}{'+media p50':>11}{'p99':>8}{'p99 x':>7}{'clip lag p50':>13}"
             f"{'p99':>8}{'audio s/s':>10}  RSS MB"]
    for s in report["setups"]:
        a, b, m = s.get("text_only"), s.get("text_with_media"), s.get("media")
        p99a = ((a or {}).get("latency_ms") or {}).get("p99")
        p99b = ((b or {}).get("latency_ms") or {}).get("p99")
        ratio = f"{p99b / p99a:>7.2f}" if p99a and p99b else f"{'-':>7}"
        rss = ", ".join(f"{r} {v:g}" for r, v in (s.get("peak_rss_mb") or {}).items() if v)
        lines.append(f"{s['setup']:<8}{ms(a, 'p50'):>9}{ms(a, 'p99')}{ms(b, 'p50'):>11}{ms(b, 'p99')}{ratio}"
                     f"{ms(m, 'p50'):>13}{ms(m, 'p99')}{(m or {}).get('audio_s_per_s', '-'):>10}  {rss}"
                     + (f"  ERROR {s['error']}" if s.get("error") else ""))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmstream.bench.media_mix", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
