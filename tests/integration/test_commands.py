"""The user-facing commands the README promises, run as a user runs them (child processes):
``mmstream demo`` exits 0 only when every post came back, ``mmstream produce`` replays a file
(bad lines too, keyed by id, at a rate), ``mmstream eval`` measures and reports."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from support import settings_env, wait_for



def mmstream(*args: str, env: dict | None = None, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmstream", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "MMSTREAM_ONNX_THREADS": "1", **(env or {})}, cwd=cwd)


def posts_file(tmp_path: Path) -> Path:
    lines = [json.dumps({"id": f"d{i}", "created_at": 1764320400 + i, "text": f"demo post {i}, the flight was fine"})
             for i in range(4)]
    lines += ["{not json", json.dumps({"id": "d-no-time", "text": "no created_at"})]
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_demo_exits_0_when_every_post_came_back(tmp_path):
    proc = mmstream("demo", "--posts", str(posts_file(tmp_path)), "--rate", "50")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "posts=6 results=4 dead_letters=2" in proc.stdout, proc.stdout[-2000:]
    assert sum(line.startswith("DEAD") for line in proc.stdout.splitlines()) == 2


def test_demo_exits_1_and_says_so_when_posts_are_missing(tmp_path):
    # 2 s is less than a worker needs to start: nothing can come back in time
    proc = mmstream("demo", "--posts", str(posts_file(tmp_path)), "--timeout", "2")
    assert proc.returncode == 1, proc.stdout[-2000:]
    summary = re.search(r"posts=6 results=(\d+) dead_letters=(\d+)", proc.stdout)
    assert summary and int(summary[1]) + int(summary[2]) < 6, proc.stdout[-2000:]
    assert "did not come back within 2 s" in proc.stderr, proc.stderr[-2000:]


def test_produce_replays_a_file_as_is_keyed_by_id(settings, tmp_path):
    path = posts_file(tmp_path)
    started = time.monotonic()
    proc = mmstream("produce", str(path), "--rate", "10", env=settings_env(settings), timeout=120)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert f"produced 6 posts to {settings.topic('posts')}" in proc.stderr
    records = wait_for(settings, "posts", 6, timeout=30)
    assert sorted(r.value for r in records) == sorted(line.encode() for line in path.read_text().splitlines())
    assert sorted(r.key for r in records if r.key) == [b"d-no-time", b"d0", b"d1", b"d2", b"d3"]
    assert took >= 0.5  # 6 posts at 10/s: the sixth leaves 0.5 s after the first
    assert mmstream("produce", str(tmp_path / "missing.jsonl"), env=settings_env(settings)).returncode != 0


def test_eval_scores_are_the_standard_ones():
    """What ``mmstream eval`` reports for sentiment: macro-recall (TweetEval's official figure), accuracy
    and macro-F1, worked by hand on six posts."""
    from mmstream.commands.evaluate import _sentiment_scores

    y, pred = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0])
    # recall 1/2, 2/2, 1/2; F1 0.5, 0.8, 2/3
    assert _sentiment_scores(y, pred) == {"macro_recall": 66.67, "accuracy": 66.67, "macro_f1": 65.56}


def test_eval_runs_the_real_pipeline_on_held_out_tweets(mmstream_pipeline):
    """``mmstream eval``'s sentiment step on the first 90 TweetEval test tweets (the whole command
    takes minutes on 2 cores: ``mmstream eval`` itself is run by hand, its figures in the README),
    through the session's pipeline (the one ``mmstream eval`` builds: ``Settings.load()``)."""
    from mmstream.commands.evaluate import eval_sentiment

    report = eval_sentiment(mmstream_pipeline, limit=90)
    assert report["posts"] == 90 and report["posts_per_s"] > 0
    assert 45 < report["macro_recall"] <= 100 and 0 < report["macro_f1"] <= 100, report  # chance: 33.3
    proc = mmstream("eval", "--help", timeout=60)
    assert proc.returncode == 0 and "--limit" in proc.stdout and "--update-card" in proc.stdout


def test_train_from_a_model_without_what_to_change_names_the_flags(tmp_path):
    """``mmstream train --from DIR`` changes part of a kept model: without a flag saying what, or without the
    flag its inputs need (the shipped model has the media texts' inputs), it stops with one line naming the
    fix, before any training (it answered a traceback from reading the graph). It runs in an empty folder, so
    no feature cache of this checkout's (``.cache/features``) hides work done before the check: it stopped only
    after encoding 47k tweets on a machine without that cache."""
    model = Path("mmstream/models/fused").resolve()
    nothing = mmstream("train", "--from", str(model), "--out", str(tmp_path / "a"), cwd=tmp_path, timeout=90)
    assert nothing.returncode == 2 and "Traceback" not in nothing.stderr, nothing.stderr[-2000:]
    assert "--media-texts" in nothing.stderr and "--complaint-praise" in nothing.stderr
    assert "encoding" not in nothing.stderr, nothing.stderr[-2000:]
    no_media = mmstream("train", "--complaint-praise", "--from", str(model), "--out", str(tmp_path / "b"),
                        cwd=tmp_path, timeout=90)
    assert no_media.returncode == 2 and "Traceback" not in no_media.stderr, no_media.stderr[-2000:]
    assert "encoding" not in no_media.stderr, no_media.stderr[-2000:]
    assert "with --media-texts" in no_media.stderr and "audio_text" in no_media.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
