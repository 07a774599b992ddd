"""``-`` reads stdin, as every command's --help says: ``mmstream produce -`` and ``mmstream score -``."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from mmstream.testing import consume


def test_produce_reads_stdin(settings):
    lines = "".join(json.dumps({"id": f"s{i}", "created_at": 0, "text": f"from stdin {i}"}) + "\n" for i in range(3))
    out = subprocess.run([sys.executable, "-m", "mmstream", "produce", "-", "--broker", settings.broker,
                          "--topic-prefix", settings.topic_prefix], input=lines + "\n", capture_output=True,
                         text=True, timeout=120, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert f"produced 3 posts to {settings.topic('posts')}" in out.stderr
    records = consume(settings, [settings.topic("posts")], until=lambda rs: len(rs) >= 3, timeout=30)
    assert sorted(r.key for r in records) == [b"s0", b"s1", b"s2"]
    assert sorted(r.json()["text"] for r in records) == [f"from stdin {i}" for i in range(3)]


def test_a_missing_file_is_named(settings):
    out = subprocess.run([sys.executable, "-m", "mmstream", "produce", "no-such-file.jsonl", "--broker",
                          settings.broker], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no-such-file.jsonl does not exist" in out.stderr


def test_score_reads_stdin():
    post = json.dumps({"id": "x", "created_at": 0, "text": "hello"}) + "\n"
    out = subprocess.run([sys.executable, "-m", "mmstream", "score", "-"], input=post, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and json.loads(out.stdout)["id"] == "x"
