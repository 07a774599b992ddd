"""``mmstream demo --serve``: the demo with its dashboard kept up.

Starts the embedded broker and a worker, sends ten minutes of history (the
sample posts, looped, with ``created_at`` spread over the last 10 minutes) and
then replays the samples at a steady pace, looping, with ``created_at`` set to
the moment each is sent and ids made unique per loop (``demo-001~3``), so
windows close, topics are mined and the charts move. Prints the dashboard's URL;
runs until Ctrl-C (or ``--for`` seconds).

The history holds a scripted burst (``samples/burst.jsonl``, with the bundled
samples only): sixty accounts paste one complaint about Acme Air within a
minute, 7-8 minutes before the start. Under the demo's alert spans (the last
minute against the six before, :data:`ALERT_SPANS`: the defaults, an hour
against twelve, need hours of history) it raises an alert of each kind once
its window closes, 40 % through the history: volume, negative share,
complaint share (Acme Air) and coordinated (the campaign: one, as the demo's
worker links copies across the posts partitions, ``MMSTREAM_DUPLICATE_SCOPE=cluster``).
"""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from mmstream.kafka.broker import EmbeddedBroker, free_port
from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.settings import Settings

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
HISTORY_SECONDS = 600
HISTORY_POSTS = 600
STARTUP_TIMEOUT = 120.0
BURST_FILE = SAMPLES_DIR / "burst.jsonl"
#: seconds before the start within whose minute the burst falls (a tumbling window of its own, closed while
#: the history is read)
BURST_AT = 420
#: the demo's alert spans, for its ten minutes of history, and copies linked across the posts partitions, so
#: the burst's sixty accounts are one campaign, not one per partition (the worker's environment wins)
ALERT_SPANS = {"MMSTREAM_ALERT_RECENT": "60", "MMSTREAM_ALERT_BASELINE": "360", "MMSTREAM_DUPLICATE_SCOPE": "cluster"}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def looped(posts: list[dict], history: int = HISTORY_POSTS, span: float = HISTORY_SECONDS,
           clock=time.time, burst: list[dict] = ()) -> Iterator[str]:
    """History first (``history`` posts over the last ``span`` seconds, and the ``burst``
    posts, ids kept, spread over the first 50 s of the minute :data:`BURST_AT` seconds
    before the start, in event-time order), then the posts forever, each stamped with the
    clock when it is taken (the producer paces them at ``rate``)."""
    start = clock()
    timed = [(start - span + i * span / history, i, posts[i % len(posts)], i // len(posts)) for i in range(history)]
    minute = (start - BURST_AT) // 60 * 60
    timed += [(minute + 5 + j * 50 / len(burst), history + j, post, None) for j, post in enumerate(burst)]
    for t, _, post, loop in sorted(timed, key=lambda row: row[:2]):
        yield _stamp(post, loop, t)
    for i in itertools.count(history):
        yield _stamp(posts[i % len(posts)], i // len(posts), clock())


def _stamp(post: dict, loop: int | None, t: float) -> str:
    copy = dict(post)
    if isinstance(copy.get("id"), str) and loop is not None:
        copy["id"] = f"{copy['id']}~{loop}"
    if "created_at" in copy:  # a post without one stays a dead letter, as in the samples
        copy["created_at"] = _iso(t)
    return json.dumps(copy, ensure_ascii=False)


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _objects(path: Path) -> list[dict]:
    posts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                posts.append(json.loads(line))
            except ValueError:
                pass  # replayed below only as JSON objects; the plain demo shows such lines as dead letters
    return [p for p in posts if isinstance(p, dict)]


def serve_demo(rate: float = 1.0, port: int = 6066, posts_file: str | None = None, duration: float | None = None) -> int:
    path = Path(posts_file) if posts_file else SAMPLES_DIR / "posts.jsonl"
    posts = _objects(path)
    burst = [] if posts_file else _objects(BURST_FILE)
    if not posts:
        print(f"mmstream demo --serve: no JSON post in {path}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mmstream-demo-") as tmp, EmbeddedBroker(log_path=Path(tmp) / "broker.log") as broker:
        web_port = port if port and _port_free(port) else free_port()
        settings = Settings.load(broker=broker.url, app_id="mmstream-demo", data_dir=str(Path(tmp) / "data"),
                                 web_port=web_port)
        print(f"broker     {broker.url} (embedded tansu)", flush=True)
        create_topics(settings, roles=("worker",))
        env = {**os.environ, "MMSTREAM_BROKER": broker.url, "MMSTREAM_APP_ID": settings.app_id,
               "MMSTREAM_DATA_DIR": settings.data_dir, "MMSTREAM_WEB_PORT": str(web_port),
               "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix}
        if not posts_file:
            env.setdefault("MMSTREAM_BRANDS_FILE", str(SAMPLES_DIR / "brands.toml"))
        for name, value in ALERT_SPANS.items():
            env.setdefault(name, value)
        log_path = Path(tmp) / "worker.log"
        with open(log_path, "wb") as worker_log:
            worker = subprocess.Popen([sys.executable, "-m", "mmstream", "worker"], env=env,
                                      stdout=worker_log, stderr=subprocess.STDOUT)
            try:
                return _run(settings, worker, posts, burst, rate, web_port, duration, log_path)
            except KeyboardInterrupt:
                print("\nstopping", flush=True)
                return 0
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()


def _run(settings: Settings, worker: subprocess.Popen, posts: list[dict], burst: list[dict], rate: float,
         port: int, duration: float | None, log_path: Path) -> int:
    began = time.monotonic()
    while _health(port) is None:
        if worker.poll() is not None or time.monotonic() - began > STARTUP_TIMEOUT:
            tail = log_path.read_text(errors="replace")[-3000:]
            print(f"mmstream demo --serve: the worker did not start; its log:\n{tail}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    producer = threading.Thread(target=_produce, args=(settings, posts, burst, rate), daemon=True)
    producer.start()
    print(f"worker     pid {worker.pid}", flush=True)
    print(f"posts      {HISTORY_POSTS} of history over the last {HISTORY_SECONDS // 60} min, then "
          f"{len(posts)} sample posts looped at {rate:g}/s", flush=True)
    if burst:
        print(f"burst      {len(burst)} accounts paste one complaint {BURST_AT // 60}-{BURST_AT // 60 + 1} min ago: "
              f"alerts on the last {_minutes('MMSTREAM_ALERT_RECENT')} min against the "
              f"{_minutes('MMSTREAM_ALERT_BASELINE')} before", flush=True)
    print(f"\ndashboard  http://127.0.0.1:{port}/    (Ctrl-C stops)\n", flush=True)
    last = 0.0
    while duration is None or time.monotonic() - began < duration:
        if worker.poll() is not None:
            print(f"mmstream demo --serve: the worker exited ({worker.returncode}); its log:\n"
                  f"{log_path.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            return 1
        if time.monotonic() - last >= 15:
            last = time.monotonic()
            health = _health(port) or {}
            print(f"results={health.get('results', '?')} dead_letters={health.get('dead_letters', '?')}", flush=True)
        time.sleep(0.5)
    return 0


def _minutes(name: str) -> str:
    return f"{float(os.environ.get(name, ALERT_SPANS[name])) / 60:g}"


def _produce(settings: Settings, posts: list[dict], burst: list[dict], rate: float) -> None:
    """History (with the burst) as fast as the worker takes it, then the steady pace."""
    stream = looped(posts, burst=burst)
    produce_jsonl(settings, itertools.islice(stream, HISTORY_POSTS + len(burst)), settings.topic("posts"))
    produce_jsonl(settings, stream, settings.topic("posts"), rate)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
