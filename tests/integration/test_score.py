"""``mmstream score`` keeps its contract (issue 32, item 7): one output line per input line, in
order, blank lines included; every dead letter names its input ``line``; a closing summary on
stderr; exit status 3 when some lines were dead-lettered, 0 when every line got a result. Run as
a user runs it (a child process), on the shipped models."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from mmstream import schemas
from support import BRANDS, THEMES, theme_text


GOOD = json.dumps({"id": "ok-1", "created_at": 0, "text": "the crew was lovely"})
LINES = [GOOD, "", "{not json", "   ", json.dumps({"id": "no-time", "text": "when?"}),
         json.dumps({"id": "ok-2", "created_at": 0, "text": "lost my bag again"})]


def score(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSTREAM_")}
    env.update(MMSTREAM_ONNX_THREADS="1", MMSTREAM_PLUGINS_DISABLED="image")
    return subprocess.run([sys.executable, "-m", "mmstream", "score", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=300)


def test_every_input_line_gets_its_output_line_and_dead_letters_name_their_line(tmp_path: Path):
    posts = tmp_path / "posts.jsonl"
    posts.write_text("\n".join(LINES))  # no newline after the last line: still a line
    out = tmp_path / "out.jsonl"
    done = score(str(posts), "-o", str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == len(LINES), out.read_text()
    assert [r["id"] for r in records] == ["ok-1", None, None, None, "no-time", "ok-2"]
    assert [(r.get("line"), r.get("reason")) for r in records] == [
        (None, None), (2, "empty_payload"), (3, "not_json"), (4, "empty_payload"), (5, "missing_created_at"),
        (None, None)]
    assert "line 2 is blank" in records[1]["detail"] and records[1]["stage"] == "decode"
    for record in records:
        topic = "dead-letter" if "reason" in record else "enriched"
        assert schemas.errors(topic, record) == [], record
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines()[-1] == ("lines=6 results=2 dead_letters=4 (empty_payload 2, not_json 1, "
                                            "missing_created_at 1; first on line 2); exit status 3")


def test_exit_0_and_the_summary_when_every_line_got_a_result():
    done = score("-", stdin=GOOD + "\n" + GOOD.replace("ok-1", "ok-3") + "\n")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["ok-1", "ok-3"]
    assert done.stderr.splitlines()[-1] == "lines=2 results=2 dead_letters=0"


def test_a_file_of_only_bad_lines_is_not_a_success():
    done = score("-", stdin="nope\n\n")
    assert done.returncode == 3
    assert [json.loads(line)["line"] for line in done.stdout.splitlines()] == [1, 2]


def test_score_takes_brands_and_fills_topics(tmp_path):
    brands = tmp_path / "brands.toml"
    brands.write_text(BRANDS, encoding="utf-8")
    posts = tmp_path / "posts.jsonl"
    lines = [{"id": "b1", "created_at": 1764320400, "text": "@united lost my luggage again", "brands": ["acme"]},
             {"id": "b2", "created_at": 1764320401, "text": "a quiet day at home"}]
    lines += [{"id": f"w{i}-{theme}", "created_at": 1764320402 + i, "text": theme_text(theme, i * 7)}
              for i in range(25) for theme in THEMES]
    posts.write_text("\n".join(json.dumps(p) for p in lines) + "\n")
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-m", "mmstream", "score", str(posts), "-o", str(out), "--brands", str(brands)],
                          capture_output=True, text=True, env={**{k: v for k, v in os.environ.items() if not k.startswith("MMSTREAM_")}, "MMSTREAM_ONNX_THREADS": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert results["b1"]["brands"] == ["acme", "united"] and results["b2"]["brands"] == []
    assert all(t["kind"] in ("mined", "category") for r in results.values() for t in r["topics"])
    # the score command mines in line: the last posts of each theme share one mined topic
    for theme in THEMES:
        last = [results[f"w{i}-{theme}"]["topics"] for i in range(15, 25)]
        mined = [t for ts in last for t in ts if t["kind"] == "mined"]
        assert len(mined) == len(last) and len({t["id"] for t in mined}) == 1, (theme, mined)
        assert set(mined[0]) == {"id", "label", "keywords", "score", "kind"} and mined[0]["keywords"]
