"""Worker memory over a long replay: is it flat?

Starts the embedded broker and one real worker process, replays N posts
(default 20,000: TweetEval texts when ``../shared/data`` is there, else
generated ones; every ``--bad-every``-th post is a bad one, every
``--image-every``-th carries a small rendered meme), and samples the worker's
resident memory (VmRSS in /proc/<pid>/status) while it works. The worker's
``/health`` counters say how many posts it has finished.

Prints RSS at each step, then the warm-up RSS (after ``--warmup`` posts), the
final and the maximum RSS, and the deltas against warm-up.

    python benchmarks/memory.py [--posts 20000] [--warmup 2000]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from mmstream.kafka.broker import EmbeddedBroker, free_port
from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.render import image_to_b64, render_meme
from mmstream.settings import Settings

T0 = 1764320400
BAD = [b"{not json", b"[1, 2]", b'{"created_at": 0, "text": "no id"}', b'{"id": "", "text": "x"}',
       b'{"id": "b", "created_at": "yesterday", "text": "x"}', b'{"id": "b", "created_at": 0}']
MEMES = ["WORST AIRLINE EVER", "BEST COFFEE IN TOWN", "MY PHONE DIED AGAIN", "CUSTOMER SUPPORT ROCKS"]


def texts() -> list[str]:
    try:
        from mmstream.training.data import tweeteval_sentiment

        found = [t for t in tweeteval_sentiment("train")[0] if t and t.strip()]
        if found:
            return found
    except Exception:  # noqa: BLE001 - no data: generated texts do
        pass
    words = "flight crew delay bag gate phone battery coffee lounge support great awful fine never love late".split()
    return [" ".join(words[(i * k + k) % len(words)] for k in range(1, 5 + i % 20)) for i in range(5000)]


def posts(n: int, bad_every: int, image_every: int) -> list[bytes]:
    pool = texts()
    memes = [image_to_b64(render_meme(m, seed=i, width=320), "JPEG", 85) for i, m in enumerate(MEMES)]
    out = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            out.append(BAD[i // bad_every % len(BAD)])
            continue
        post = {"id": f"m{i}", "created_at": T0 + i, "text": pool[i % len(pool)], "lang": "en",
                "brands": ["acme"] if i % 3 == 0 else []}
        if image_every and i % image_every == image_every // 2:
            post["images"] = [{"b64": memes[i // image_every % len(memes)]}]
        out.append(json.dumps(post).encode())
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def processed(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            stats = json.loads(resp.read())
        return int(stats["results"]) + int(stats["dead_letters"])
    except OSError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000, help="posts before the baseline RSS")
    parser.add_argument("--bad-every", type=int, default=50, help="every Nth post is bad (0: none)")
    parser.add_argument("--image-every", type=int, default=400, help="every Nth post has an image (0: none)")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    records = posts(args.posts, args.bad_every, args.image_every)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(free_port(), log_path=Path(tmp) / "tansu.log") as broker:
        settings = Settings.load(broker=broker.url, topic_prefix=f"mem{uuid.uuid4().hex[:8]}.",
                                 web_port=free_port(), data_dir=str(Path(tmp) / "data"))
        create_topics(settings, roles=("worker",))
        env = {**os.environ, "MMSTREAM_BROKER": settings.broker, "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix,
               "MMSTREAM_WEB_PORT": str(settings.web_port), "MMSTREAM_DATA_DIR": settings.data_dir}
        with open(Path(tmp) / "worker.log", "wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "mmstream", "worker"], env=env, stdout=log,
                                      stderr=subprocess.STDOUT)
            try:
                return measure(args, settings, records, worker)
            finally:
                worker.terminate()
                worker.wait(timeout=60)


def measure(args: argparse.Namespace, settings: Settings, records: list[bytes], worker: subprocess.Popen) -> int:
    started = time.monotonic()
    while processed(settings.web_port) is None:
        if worker.poll() is not None or time.monotonic() - started > 120:
            print("the worker did not start", file=sys.stderr)
            return 1
        time.sleep(0.5)
    print(f"worker up, RSS {rss_mb(worker.pid):.1f} MB; replaying {len(records)} posts", flush=True)
    produce_jsonl(settings, records, settings.topic("posts"))
    warm = peak = None
    step, next_report, t_warm = len(records) // 10, 0, 0.0
    done = 0
    while done < len(records):
        if worker.poll() is not None:
            print(f"the worker exited with status {worker.returncode}", file=sys.stderr)
            return 1
        if time.monotonic() - started > args.timeout:
            print(f"timed out after {done} posts", file=sys.stderr)
            return 1
        done = processed(settings.web_port) or done
        rss = rss_mb(worker.pid)
        if warm is None and done >= args.warmup:
            warm, t_warm = rss, time.monotonic()
            print(f"warm-up done after {done} posts: RSS {warm:.1f} MB", flush=True)
        if warm is not None:
            peak = max(peak or rss, rss)
        if done >= next_report:
            print(f"  {done:>6} posts  RSS {rss:7.1f} MB", flush=True)
            next_report += step
        time.sleep(0.5)
    final = rss_mb(worker.pid)
    assert warm is not None and peak is not None
    rate = (len(records) - args.warmup) / max(time.monotonic() - t_warm, 1e-9)
    print(f"posts={len(records)} warmup_posts={args.warmup} rate_after_warmup={rate:.0f} posts/s")
    print(f"warm-up RSS {warm:.1f} MB | final RSS {final:.1f} MB | max RSS {peak:.1f} MB | "
          f"delta final-warm {final - warm:+.1f} MB | delta max-warm {peak - warm:+.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
