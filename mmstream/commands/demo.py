"""``mmstream demo``: the whole product on one machine with no other step.

Starts the embedded broker and a worker process, replays the bundled sample
posts, prints each result as it arrives and ends with
``posts=N results=M dead_letters=K``. Exit 0 only when every post came back.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from mmstream.kafka.broker import EmbeddedBroker, free_port
from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.kafka.readback import Record, consume
from mmstream.settings import Settings
from mmstream.training.extractors import image_extractor, plugin_extractors

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "posts.jsonl"
#: the post field (core's posts schema, mmstream/schemas/posts.json) whose text each result line shows
TEXT = "text"


def image_keys(extractors: dict) -> tuple[str | None, str | None]:
    """(the modality whose report carries the OCR text of a post's images, the text view that text
    becomes), from the declarations of the extractor that encodes images (its one feature, its first
    text view); (None, None) without one: the demo then shows no image text."""
    photos = image_extractor(extractors)
    if photos is None:
        return None, None
    return next(iter(photos.dims)), (photos.text_views[0] if photos.text_views else None)


def format_result(record: dict, text: str = "", images: tuple[str | None, str | None] = (None, None)) -> str:
    """One readable line: label, score, brands, topic, modalities, text excerpt (``images``:
    :func:`image_keys`)."""
    s = record["sentiment"] or {"label": "-", "score": 0.0}  # null: the model read nothing of the post
    brands = ",".join(record.get("brands") or []) or "-"
    topic = record["topics"][0]["label"] if record.get("topics") else "-"
    mods = record.get("modalities", {})
    photos, read = images
    report = (mods.get(photos) if photos else None) or {}
    excerpt = ""
    if (read is not None and read in mods) or report.get("ocr_text"):
        excerpt = "[image text] " + report.get("ocr_text", "")
    excerpt = (text + " " + excerpt).strip() if text else excerpt
    excerpt = excerpt.replace("\n", " ")
    excerpt = excerpt[:70] + "..." if len(excerpt) > 73 else excerpt
    return f"{s['label']:<8} {s['score']:+.2f}  {brands:<10} {topic:<22} {record['id']:<13} {excerpt}"


def format_dead_letter(record: dict) -> str:
    return f"DEAD     {record['reason']:<20} stage={record['stage']:<14} id={record.get('id') or '?'}: {record['detail']}"


def run_demo(rate: float = 20.0, timeout: float = 180.0, posts_file: str | None = None) -> int:
    path = Path(posts_file) if posts_file else SAMPLES
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    texts: dict[str, str] = {}
    for line in lines:
        try:
            post = json.loads(line)
            texts[post["id"]] = post.get(TEXT, "")
        except (ValueError, KeyError, TypeError):
            pass
    with tempfile.TemporaryDirectory(prefix="mmstream-demo-") as tmp, EmbeddedBroker(log_path=Path(tmp) / "broker.log") as broker:
        settings = Settings.load(broker=broker.url, app_id="mmstream-demo", data_dir=str(Path(tmp) / "data"),
                                 web_port=free_port())
        print(f"broker  {broker.url} (embedded tansu)", flush=True)
        images = image_keys(plugin_extractors(settings))
        create_topics(settings, roles=("worker",))
        worker_log = open(Path(tmp) / "worker.log", "wb")
        env = {**os.environ, "MMSTREAM_BROKER": broker.url, "MMSTREAM_APP_ID": settings.app_id,
               "MMSTREAM_DATA_DIR": settings.data_dir, "MMSTREAM_WEB_PORT": str(settings.web_port),
               "MMSTREAM_TOPIC_PREFIX": settings.topic_prefix}
        worker = subprocess.Popen([sys.executable, "-m", "mmstream", "worker"], env=env,
                                  stdout=worker_log, stderr=subprocess.STDOUT)
        print(f"worker  pid {worker.pid}, health on http://127.0.0.1:{settings.web_port}/health", flush=True)
        producer = threading.Thread(target=produce_jsonl, args=(settings, lines, settings.topic("posts"), rate), daemon=True)
        producer.start()
        print(f"posts   replaying {len(lines)} posts from {path.name} at {rate:g}/s\n", flush=True)
        seen: set[str] = set()
        counts = {"results": 0, "dead_letters": 0}

        def show(records: list[Record]) -> bool:
            for rec in records[len(seen_records):]:
                seen_records.append(rec)
                value = rec.json()
                if rec.topic == settings.topic("enriched"):
                    ident = "id:" + value["id"]
                    line = format_result(value, texts.get(value["id"], ""), images)
                    kind = "results"
                else:
                    ident = f"src:{value.get('partition')}:{value.get('offset')}"
                    line = format_dead_letter(value)
                    kind = "dead_letters"
                if ident not in seen:  # at-least-once: a replayed post is shown once
                    seen.add(ident)
                    counts[kind] += 1
                    print(line, flush=True)
            return len(seen) >= len(lines) or worker.poll() is not None

        seen_records: list[Record] = []
        try:
            consume(settings, [settings.topic("enriched"), settings.topic("dead-letter")], until=show, timeout=timeout)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
            worker_log.close()
        print(f"\nposts={len(lines)} results={counts['results']} dead_letters={counts['dead_letters']}", flush=True)
        if len(seen) < len(lines):
            log = (Path(tmp) / "worker.log").read_text(errors="replace")[-3000:]
            print(f"mmstream demo: {len(lines) - len(seen)} posts did not come back within {timeout:g} s; "
                  f"worker log tail:\n{log}", file=sys.stderr)
            return 1
        return 0
