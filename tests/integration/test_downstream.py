"""Downstream services: schemas, the client and the database sinks, on real runs.

One real worker on the embedded broker runs for the whole module, with brand
windows in seconds and alert thresholds low enough that a planted burst
fires: good and bad posts, the bundled samples (memes, images), late posts and
closed windows put records on every output topic. Those records are checked
against the JSON Schemas; the sinks write them into SQLite and into a real
PostgreSQL server (an unprivileged cluster in a temporary folder) while being
killed with SIGKILL mid-stream; the README's client example runs as written.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from mmstream import schemas
from mmstream.analytics.engine.events import decode_mentions
from mmstream.client import Reader, Result, parse
from mmstream.commands.produce import produce_jsonl
from mmstream.errors import SchemaError
from mmstream.kafka.admin import create_topics
from mmstream.schemas.asyncapi import asyncapi
from mmstream.settings import Settings
from mmstream.testing import Record, unique_settings
from pgserver import PostgresServer, pg_bin
from support import produce, read_all, settings_env, synthetic_result, wait_for, wait_until, WorkerProcess
from paths import REPO

ROOT = REPO
SAMPLES = ROOT / "mmstream" / "samples" / "posts.jsonl"
T0 = 1_764_320_400  # 2025-11-28T09:00:00Z
RECENT = int(time.time()) - 3 * 3600  # posts after the samples: in the past (the worker refuses the future)
OUT = ("enriched", "dead-letter", "brand-stats", "late", "topics", "alerts")
ENV = {"MMSTREAM_WINDOW_TUMBLING": "10", "MMSTREAM_WINDOW_HOPPING": "20", "MMSTREAM_WINDOW_HOP": "10",
       "MMSTREAM_WINDOW_GRACE": "5", "MMSTREAM_IDLE_PARTITION": "3", "MMSTREAM_TOPIC_WARMUP": "10",
       "MMSTREAM_ALERT_RECENT": "30", "MMSTREAM_ALERT_BASELINE": "240", "MMSTREAM_ALERT_MIN_POSTS": "10",
       "MMSTREAM_ALERT_Z": "3", "MMSTREAM_ALERT_COOLDOWN": "60"}
BRANDS = '[brands.acme]\naliases = ["@acme", "acme air"]\n[brands.brewly]\naliases = ["#brewly", "brewly coffee"]\n'
TEXTS = ["@acme lost my bag again, worst airline ever", "Loving the new #brewly latte, so good!",
         "acme air flight 12 boards at gate 4", "brewly coffee and @acme lounge: both terrible today",
         "Great crew on @acme, thank you!", "#brewly is fine I guess", "@acme my suitcase never arrived at the airport"]
BAD = ['{"id": "bad-json", "created_at": ', '{"id": "bad-no-time", "text": "hello @acme"}',
       '{"id": 12, "created_at": 1764320400, "text": "an id that is a number"}',
       '{"id": "bad-empty", "created_at": 1764320400, "text": ""}',
       '{"id": "bad-modality", "created_at": 1764320400, "smell": "roses"}']


def post(pid: str, t: float, text: str) -> dict:
    return {"id": pid, "created_at": t, "text": text}


@pytest.fixture(scope="module")
def stream(broker, tmp_path_factory) -> Iterator[Settings]:
    """A worker that has put records on every output topic; yields its settings."""
    root = tmp_path_factory.mktemp("downstream")
    settings = unique_settings(root / "data", broker=broker.url, broker_session_timeout=6.0)
    (root / "brands.toml").write_text(BRANDS)
    create_topics(settings, roles=("worker",))
    worker = WorkerProcess(settings, root / "worker.log", {**ENV, "MMSTREAM_BRANDS_FILE": str(root / "brands.toml")})
    samples = SAMPLES.read_text().splitlines()
    phases = [
        [post(f"bg{i}", T0 + 10 * i, TEXTS[i % len(TEXTS)]) for i in range(30)] + BAD,  # a steady baseline
        [post(f"burst{i}", T0 + 300 + 0.5 * i, TEXTS[(2 * i) % len(TEXTS)]) for i in range(30)],  # acme spikes
        [post("late1", T0 + 100, TEXTS[0])] + [post(f"flush{i}", T0 + 600 + i, TEXTS[i]) for i in range(len(TEXTS))],
        samples,  # a year later: every window above closes; memes, photos, bad posts
    ]
    try:
        for phase in phases:  # each phase reaches the engine after the previous one
            ids = {p["id"] for p in phase if isinstance(p, dict)}
            produce(settings, phase)
            wait_for(settings, "mentions", lambda rs, ids=ids: ids <= {json.loads(line)["id"] for r in rs
                                                                      for line in decode_mentions(r.value)},
                     120, "the phase's mentions", worker)
        wait_for(settings, OUT, lambda rs: {r.topic for r in rs} >= {settings.topic(t) for t in OUT}, 90,
                 "a record on every output topic", worker)
        settings.worker = worker  # type: ignore[attr-defined]
        settings.posts = [p for phase in phases for p in phase]  # type: ignore[attr-defined]
        yield settings
    finally:
        worker.stop()


def by_topic(settings: Settings, records: list[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {t: [] for t in OUT + ("mentions",)}
    for r in records:
        out[r.topic[len(settings.topic_prefix):]].append(r)
    return out


# -- schemas -----------------------------------------------------------------------------------------

def test_every_record_real_runs_write_matches_its_schema(stream):
    settings = stream
    records = by_topic(settings, read_all(settings, list(OUT) + ["mentions"], settle=3.0))
    counts = {t: len(rs) for t, rs in records.items()}
    assert all(counts[t] > 0 for t in OUT), counts
    for topic in OUT:
        for r in records[topic]:
            value = r.json()
            assert schemas.errors(topic, value) == [], (topic, value)
            assert value["schema"] == schemas.version(topic)
            parse(topic, value)  # the typed client reads every one
    lines = [json.loads(line) for r in records["mentions"] for line in decode_mentions(r.value)]
    assert lines and all(schemas.errors("mentions", m) == [] for m in lines)
    good = [p for p in stream.posts if isinstance(p, dict)] + [
        json.loads(line) for line in SAMPLES.read_text().splitlines() if _result_id(line, records)]
    assert good and all(schemas.errors("posts", p) == [] for p in good)
    # what the worker dead-lettered at validation fails the posts schema too
    dead = [r.json() for r in records["dead-letter"] if r.json()["reason"] in (
        "missing_id", "missing_created_at", "wrong_type", "empty_text") and not r.json()["payload_truncated"]]
    assert dead and all(schemas.errors("posts", json.loads(d["payload"])) for d in dead), dead
    kinds = {r.json()["type"] for r in records["topics"]}
    assert "space" in kinds and kinds & {"birth", "update"}, kinds
    assert any(r.json()["subject"]["id"] == "acme" for r in records["alerts"])


def _result_id(line: str, records: dict[str, list[Record]]) -> bool:
    ids = {r.json()["id"] for r in records["enriched"]}
    try:
        return json.loads(line).get("id") in ids
    except ValueError:
        return False


def _json_type(value: Any) -> str:
    return {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}[type(value)]


def _mutations(prop: dict, value: Any) -> Iterator[Any]:
    """Values of a JSON type the property ``prop`` does not accept (nor ``value`` has)."""
    allowed = prop.get("type", [])
    allowed = [allowed] if isinstance(allowed, str) else allowed
    for other in ("text", 12.5, True, None, [], {}):
        kind = _json_type(other)
        if kind != _json_type(value) and kind not in allowed and not (kind == "integer" and "number" in allowed):
            yield other


def test_a_wrong_type_or_a_missing_required_field_fails(stream):
    settings = stream
    records = by_topic(settings, read_all(settings, list(OUT), settle=2.0))
    for topic in OUT:
        schema = schemas.load(topic)
        sample = next(r.json() for r in records[topic] if r.json().get("type") != "space")
        for name in schema["required"] + (schema.get("else", {}).get("required", []) if topic == "topics" else []):
            broken = {k: v for k, v in sample.items() if k != name}
            assert schemas.errors(topic, broken), (topic, "missing", name)
            with pytest.raises(SchemaError):
                schemas.validate(topic, broken)
            prop = {**schema["properties"].get(name, {}), **schema.get("else", {}).get("properties", {}).get(name, {})}
            for wrong in _mutations(prop, sample[name]):
                assert schemas.errors(topic, {**sample, name: wrong}), (topic, name, wrong)
    result = next(r.json() for r in records["enriched"])
    nested = json.loads(json.dumps(result))
    nested["sentiment"]["probs"]["positive"] = "high"
    assert any("sentiment/probs/positive" in e for e in schemas.errors("enriched", nested))
    del nested["sentiment"]["label"]
    with pytest.raises(SchemaError, match="label"):
        parse("enriched", nested)
    # additive changes keep the version: an unknown field is accepted and ignored
    extra = {**result, "sarcasm": {"prob": 0.9}, "reach": 1200}
    assert schemas.errors("enriched", extra) == [] and parse("enriched", extra).id == result["id"]
    with pytest.raises(SchemaError, match="upgrade mmstream"):
        parse("enriched", {**result, "schema": "mmstream.enriched/2"})
    assert schemas.errors("enriched", {**result, "created_at": "yesterday"})


def test_schemas_are_served_printed_and_in_the_asyncapi_document(stream):
    settings = stream
    from jsonschema import Draft202012Validator

    for topic in schemas.TOPICS:
        Draft202012Validator.check_schema(schemas.load(topic))
        const = schemas.load(topic)["properties"].get("schema", {}).get("const")
        assert const == schemas.version(topic)
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/schemas/enriched", timeout=5) as resp:
        assert json.loads(resp.read()) == schemas.load("enriched")
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/schemas/{settings.topic('alerts')}",
                                timeout=5) as resp:
        assert json.loads(resp.read())["title"] == "mmstream.alerts/1"
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/schemas", timeout=5) as resp:
        listed = json.loads(resp.read())["schemas"]
    assert [s["topic"] for s in listed] == list(schemas.TOPICS) and listed[1]["address"] == settings.topic("enriched")
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/asyncapi", timeout=5) as resp:
        assert json.loads(resp.read())["channels"]["alerts"]["address"] == settings.topic("alerts")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/schemas/nope", timeout=5)
    assert missing.value.code == 404 and "the topics are" in json.loads(missing.value.read())["error"]
    env = settings_env(settings)
    printed = subprocess.run([sys.executable, "-m", "mmstream", "schemas", "brand-stats"], env=env,
                             capture_output=True, text=True, check=True).stdout
    assert json.loads(printed) == schemas.load("brand-stats")
    doc = json.loads(subprocess.run([sys.executable, "-m", "mmstream", "schemas", "--asyncapi"], env=env,
                                    capture_output=True, text=True, check=True).stdout)
    assert doc == json.loads(json.dumps(asyncapi(settings)))
    assert doc["asyncapi"] == "3.0.0" and set(doc["channels"]) == set(schemas.TOPICS)
    for topic, channel in doc["channels"].items():
        assert channel["address"] == settings.topic(topic)
        (ref,) = channel["messages"].values()
        message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
        assert message["payload"]["schema"] == schemas.load(topic)
    actions = {(op["action"], op["channel"]["$ref"]) for op in doc["operations"].values()}
    assert ("receive", "#/channels/posts") in actions and ("send", "#/channels/enriched") in actions
    listing = subprocess.run([sys.executable, "-m", "mmstream", "schemas"], env=env, capture_output=True, text=True,
                             check=True).stdout
    assert all(settings.topic(t) in listing for t in schemas.TOPICS)


def test_schemas_validate_a_file_from_the_command_line(stream, tmp_path):
    settings = stream
    results = [r.json() for r in read_all(settings, "enriched", settle=1.0)][:5]
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in results))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**results[0], "sentiment": {"label": "angry", "score": 2}}) + "\n")
    run = [sys.executable, "-m", "mmstream", "schemas", "enriched", "--validate"]
    assert subprocess.run(run + [str(good)], capture_output=True, text=True).returncode == 0
    failed = subprocess.run(run + [str(bad)], capture_output=True, text=True)
    assert failed.returncode == 1 and "bad.jsonl:1: sentiment" in failed.stdout, failed.stdout


# -- the client ----------------------------------------------------------------------------------------

def readme_example() -> str:
    """The client example of README.md's Downstream section, as written there."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Downstream"):]
    return re.search(r"```python\n(from mmstream.client import.*?)```", section, re.S).group(1)


def test_the_readme_client_example_runs_and_resumes_where_it_stopped(stream, tmp_path):
    settings = stream
    code = readme_example()
    assert len(code.strip().splitlines()) <= 10
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**settings_env(settings), "PYTHONUNBUFFERED": "1"}
    on_topic = {r.json()["id"]: r.json() for r in read_all(settings, "enriched", settle=1.0)}
    alerts = {r.json()["id"] for r in read_all(settings, "alerts", settle=1.0)}

    def run_until(expected_ids: set[str], alert_lines: int) -> list[str]:
        out = tmp_path / f"out-{uuid.uuid4().hex[:6]}.txt"
        with open(out, "w") as fh:
            proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=fh, stderr=subprocess.STDOUT)
            try:
                def printed() -> list[str] | None:
                    lines = out.read_text().splitlines()
                    ids = {line.split()[0] for line in lines if not line.startswith("ALERT")}
                    alerts_seen = sum(line.startswith("ALERT") for line in lines)
                    return lines if ids >= expected_ids and alerts_seen >= alert_lines else None
                lines = wait_until(printed, 90, f"the example printing {len(expected_ids)} results")
                time.sleep(1.0)  # nothing else comes
            finally:
                proc.send_signal(signal.SIGINT)  # Ctrl-C: what was handled is committed
                proc.wait(timeout=30)
        return out.read_text().splitlines()

    first = run_until(set(on_topic), len(alerts))
    results = [line for line in first if not line.startswith(("ALERT", "Traceback", " ", "KeyboardInterrupt"))]
    assert len(results) == len(on_topic), results[:5]  # each result once: duplicates skipped
    for line in results:
        pid, brands, label, score = line.split(" ", 3)
        assert label == on_topic[pid]["sentiment"]["label"] and float(score) == pytest.approx(
            on_topic[pid]["sentiment"]["score"], abs=0.006)
    assert sum(line.startswith("ALERT") for line in first) == len(alerts)
    # new posts, then the same example again: it resumes from the group's committed offsets
    produce(settings, [post(f"after{i}", RECENT + i, TEXTS[i]) for i in range(3)])
    second = run_until({f"after{i}" for i in range(3)}, 0)
    again = [line.split()[0] for line in second if line.split() and line.split()[0] in on_topic]
    assert len(again) <= 1, again  # at most the one being handled when Ctrl-C came


def test_the_reader_commits_only_what_was_handled_and_skips_duplicates(stream, tmp_path):
    settings = stream
    copies = tmp_path / "copies.jsonl"
    originals = [r for r in read_all(stream, "enriched", settle=1.0)][:6]
    own = settings.replace(topic_prefix=f"r{uuid.uuid4().hex[:10]}.")
    create_topics(own.replace(partitions=1), topics=("enriched",))
    fifth = originals[4].json()
    lines = [r.value.decode() for r in originals] + [originals[4].value.decode()]  # a duplicate of the fifth
    # the same key, another value: an update (its topics changed: emptied, or one added when it had none)
    changed = [] if fifth.get("topics") else [{"id": "travel", "label": "Travel", "keywords": [], "score": 0.9,
                                                "kind": "category"}]
    lines.append(json.dumps({**fifth, "topics": changed}))
    copies.write_text("\n".join(lines) + "\n")
    produce_jsonl(own, copies, own.topic("enriched"))
    group = f"g-{uuid.uuid4().hex[:8]}"
    seen = []
    with pytest.raises(RuntimeError):
        with Reader(["enriched"], group, own, idle_timeout=10) as reader:
            for message in reader:
                seen.append(message.offset)
                assert isinstance(message.record, Result)
                if len(seen) == 4:
                    raise RuntimeError("the caller fails on its fourth message")
    with Reader("enriched", group, own, idle_timeout=4) as reader:
        rest = [m for m in reader]
        assert reader.duplicates == 1
        assert [t.id for t in reader.latest[("enriched", fifth["id"])].record.topics] == [t["id"] for t in changed]
    assert [m.offset for m in rest] == [3, 4, 5, 7]  # the failed fourth again; 6, a copy of 4, skipped
    with Reader("enriched", group, own, idle_timeout=3) as reader:
        assert list(reader) == []  # everything was handled and committed


# -- the sinks -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bindir = pg_bin()
    if bindir is None:
        if os.environ.get("CI"):  # as tests/browser/test_dashboard.py with chromium: under CI a missing server fails
            pytest.fail("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)")
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql")
    server = PostgresServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


class Db:
    """Reading the sink's tables back, from SQLite or PostgreSQL."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def rows(self, sql: str) -> list[tuple]:
        if self.dsn.startswith("sqlite:///"):
            path = self.dsn[len("sqlite:///"):]
            if not Path(path).exists():
                return []
            conn = sqlite3.connect(path)
            try:
                return conn.execute(sql).fetchall()
            except sqlite3.OperationalError:  # no table yet
                return []
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            try:
                return conn.execute(sql).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def count(self, table: str) -> int:
        found = self.rows(f"SELECT count(*) FROM mmstream_{table}")
        return found[0][0] if found else 0


def start_sink(settings: Settings, dsn: str, group: str, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "mmstream", "sink", dsn, "--topics",
                                 "enriched,dead-letter,brand-stats,late,topics,alerts", "--group", group,
                                 "--batch-size", "5", *extra], env=settings_env(settings), stdout=fh,
                                stderr=subprocess.STDOUT)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_sink_killed_mid_stream_loses_and_duplicates_nothing(stream, kind, request, tmp_path):
    settings = stream
    dsn = f"sqlite:///{tmp_path / 'mmstream.db'}" if kind == "sqlite" else request.getfixturevalue("postgres").dsn
    db, group, log = Db(dsn), f"sink-{kind}-{uuid.uuid4().hex[:6]}", tmp_path / "sink.log"
    tag = uuid.uuid4().hex[:4]
    start = RECENT + (600 if kind == "sqlite" else 1200)
    wave_a = [post(f"{tag}-a{i}", start + i, TEXTS[i % len(TEXTS)]) for i in range(80)]
    wave_b = [post(f"{tag}-b{i}", start + 100 + i, TEXTS[i % len(TEXTS)]) for i in range(40)]
    sink = start_sink(settings, dsn, group, log)
    try:
        wait_until(lambda: db.count("results") > 0, 60, "the sink's first rows")
        sender = threading.Thread(target=produce_jsonl, args=(settings, [json.dumps(p) for p in wave_a],
                                                              settings.topic("posts")), kwargs={"rate": 40})
        sender.start()  # the stream goes on while the sink writes
        wait_until(lambda: db.count("results") > 0 and any(
            r[0].startswith(tag) for r in db.rows("SELECT id FROM mmstream_results")), 60, "rows of the new wave")
        sink.send_signal(signal.SIGKILL)
        sink.wait(timeout=10)
        at_kill = db.count("results")
        sender.join()
        produce(settings, wave_b)  # while no sink runs
        expected = {p["id"] for p in wave_a + wave_b}
        wait_for(settings, "enriched", expected, 120, "the waves' results", settings.worker)
        time.sleep(2.0)  # the analytics' outputs of the last batch
        sink = start_sink(settings, dsn, group, log, "--exit-when-idle", "6")
        assert sink.wait(timeout=180) == 0, log.read_text()[-3000:]
    finally:
        if sink.poll() is None:
            sink.kill()
    on_topics = by_topic(settings, read_all(settings, list(OUT), settle=3.0))
    last = {t: {_key(r): r.json() for r in rs} for t, rs in on_topics.items() if t in OUT}
    assert 0 < at_kill < len(last["enriched"]), (at_kill, len(last["enriched"]))
    # every result id exactly once, with the values of its last record
    ids = db.rows("SELECT id, sentiment_label, sentiment_score, model FROM mmstream_results")
    assert len(ids) == len({i[0] for i in ids}) == len(last["enriched"]) and {i[0] for i in ids} == set(last["enriched"])
    for pid, label, score, model in ids:
        want = last["enriched"][pid]
        assert (label, model) == (want["sentiment"]["label"], want["model"])
        assert score == pytest.approx(want["sentiment"]["score"], abs=1e-12)
    brands = db.rows("SELECT id, brand FROM mmstream_result_brands")
    assert sorted(brands) == sorted((pid, b) for pid, r in last["enriched"].items() for b in dict.fromkeys(r["brands"]))
    # window stats equal the values on brand-stats
    stats = db.rows("SELECT key, brand, posts, negative, neutral, positive, mean_score, share_of_voice, "
                    "mentions_in_window, complaints, complaint_share FROM mmstream_brand_stats")
    assert {s[0] for s in stats} == set(last["brand-stats"]) and len(stats) == len(last["brand-stats"])
    for key, brand, posts, neg, neu, pos, mean, share, mentions, complaints, complaint_share in stats:
        want = last["brand-stats"][key]
        assert (brand, posts, neg, neu, pos, mentions) == (want["brand"], want["posts"], want["labels"]["negative"],
                                                          want["labels"]["neutral"], want["labels"]["positive"],
                                                          want["mentions_in_window"])
        assert (mean, share) == (pytest.approx(want["mean_score"], abs=1e-12),
                                 pytest.approx(want["share_of_voice"], abs=1e-12))
        assert complaints == want["complaints"] and complaint_share == pytest.approx(want["complaint_share"], abs=1e-12)
    assert any(s[9] for s in stats), "no window with a complaint: the columns are not exercised"
    for topic, table in (("alerts", "alerts"), ("late", "late_posts"), ("topics", "topics"),
                         ("dead-letter", "dead_letters")):
        column = "key" if table == "dead_letters" else "id"
        assert sorted(r[0] for r in db.rows(f"SELECT {column} FROM mmstream_{table}")) == sorted(last[topic]), topic
    assert db.count("rejects") == 0
    # the restarted sink resumed from its committed offsets: it did not read everything again
    assert "\r" not in log.read_text()  # its stderr is a file: progress as lines, no carriage returns
    final = [line for line in log.read_text().splitlines() if line.startswith("sink (")][-1]
    total = sum(len(rs) for t, rs in on_topics.items() if t in OUT)
    assert int(re.search(r"(\d+) records", final).group(1)) < total, final
    # the README's queries run on what the sink wrote
    for sql in readme_queries("postgresql" if kind == "postgresql" else "sqlite"):
        assert db.rows(sql), sql


def _key(r: Record) -> str:
    if r.key:
        return r.key.decode()
    value = r.json()
    return f"{value['topic']}:{value['partition']}:{value['offset']}"


def readme_queries(dialect: str) -> list[str]:
    """The example SQL queries of README.md's Downstream section, for ``dialect``."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Downstream"):]
    blocks = re.findall(r"```sql\n-- " + dialect + r"\n(.*?)```", section, re.S)
    queries = [q.strip() for block in blocks for q in block.split(";") if q.strip()]
    assert len(queries) == 3, queries
    return queries


def test_a_record_that_breaks_its_schema_goes_to_rejects_and_the_sink_goes_on(stream, tmp_path):
    settings = stream
    own = settings.replace(topic_prefix=f"s{uuid.uuid4().hex[:10]}.")
    create_topics(own.replace(partitions=1), topics=("enriched",))
    good = next(r.json() for r in read_all(settings, "enriched", settle=1.0))
    lines = [json.dumps({**good, "sentiment": "positive"}), "not json", json.dumps(good)]
    produce_jsonl(own, lines, own.topic("enriched"))
    dsn = f"sqlite:///{tmp_path / 'r.db'}"
    done = subprocess.run([sys.executable, "-m", "mmstream", "sink", dsn, "--topics", "enriched",
                           "--exit-when-idle", "4"], env=settings_env(own), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    db = Db(dsn)
    assert [r[0] for r in db.rows("SELECT id FROM mmstream_results")] == [good["id"]]
    rejects = db.rows("SELECT kafka_offset, error FROM mmstream_rejects ORDER BY kafka_offset")
    assert [r[0] for r in rejects] == [0, 1] and "sentiment" in rejects[0][1] and "not JSON" in rejects[1][1]
    assert "2 rejected" in done.stderr
    bad = subprocess.run([sys.executable, "-m", "mmstream", "sink", "mysql://x/y"], env=settings_env(own),
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "sqlite://" in bad.stderr and "postgresql://" in bad.stderr


@pytest.mark.both_brokers  # and on Apache Kafka (tests/conftest.py)
def test_the_reader_and_the_sink_on_each_broker(settings, tmp_path):
    create_topics(settings.replace(partitions=2), topics=("enriched",))
    produce_jsonl(settings, [json.dumps(synthetic_result(i)) for i in range(200)], settings.topic("enriched"))
    group, first = f"g-{uuid.uuid4().hex[:8]}", []
    with Reader(["enriched"], group, settings, idle_timeout=10) as reader:
        for message in reader:
            first.append(message.record.id)
            if len(first) == 50:
                break  # a normal exit: the fiftieth was handled too
    with Reader(["enriched"], group, settings, idle_timeout=5) as reader:
        rest = [m.record.id for m in reader]
    assert len(first) == 50 and sorted(first + rest) == sorted(f"r{i}" for i in range(200))
    # the sink, killed while the stream still flows, then restarted
    dsn, log = f"sqlite:///{tmp_path / 'k.db'}", tmp_path / "sink.log"
    db, sink_group = Db(dsn), f"sink-{uuid.uuid4().hex[:6]}"
    sender = threading.Thread(target=produce_jsonl, kwargs={"rate": 400, "settings": settings, "topic": settings.topic(
        "enriched"), "path_or_lines": [json.dumps(synthetic_result(i)) for i in range(200, 2200)]})
    sink = start_sink(settings, dsn, sink_group, log, "--topics", "enriched")
    try:
        wait_until(lambda: db.count("results") >= 100, 90, "the sink's first rows")
        sender.start()
        wait_until(lambda: db.count("results") >= 400, 90, "rows of the stream")
        assert sender.is_alive()  # mid-stream
        sink.send_signal(signal.SIGKILL)
        sink.wait(timeout=10)
        at_kill = db.count("results")
        sender.join()
        sink = start_sink(settings, dsn, sink_group, log, "--topics", "enriched", "--exit-when-idle", "5")
        assert sink.wait(timeout=180) == 0, log.read_text()[-3000:]
    finally:
        if sink.poll() is None:
            sink.kill()
    ids = [r[0] for r in db.rows("SELECT id FROM mmstream_results")]
    assert len(ids) == len(set(ids)) == 2200 and set(ids) == {f"r{i}" for i in range(2200)} and at_kill < 2200
    progress = [line for line in log.read_text().splitlines() if re.match(r"sink \(.*\d+ records", line)]
    assert "\r" not in log.read_text() and len(progress) >= 2, log.read_text()[-2000:]  # lines in a log file
    final = progress[-1]
    assert int(re.search(r"(\d+) records", final).group(1)) <= 2200 - at_kill + 20, final  # resumed, not replayed


REFUSE = {"sqlite": ("CREATE TRIGGER refuse_r7 BEFORE INSERT ON mmstream_results WHEN NEW.id = 'r7' "
                     "BEGIN SELECT RAISE(ABORT, 'the database refuses r7'); END",
                     "DROP TRIGGER refuse_r7"),
          "postgresql": ("CREATE FUNCTION refuse_r7() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                         "IF NEW.id = 'r7' THEN RAISE EXCEPTION 'the database refuses r7'; END IF; RETURN NEW; END $$; "
                         "CREATE TRIGGER refuse_r7 BEFORE INSERT ON mmstream_results FOR EACH ROW "
                         "EXECUTE FUNCTION refuse_r7()",
                         "DROP TRIGGER refuse_r7 ON mmstream_results; DROP FUNCTION refuse_r7()")}


def _db_execute(dsn: str, sql: str) -> None:
    if dsn.startswith("sqlite:///"):
        conn = sqlite3.connect(dsn[len("sqlite:///"):])
        try:
            conn.executescript(sql)
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_batch_the_database_refuses_is_read_again_offsets_follow_the_transaction(settings, kind, request, tmp_path):
    """The order that makes a sink lose nothing: the transaction, then the offsets. A real database
    refuses one record (a trigger raises); the sink stops with nothing of that batch written, and a
    sink started again in the same group reads that batch again, from its first record."""
    from mmstream.sinks import open_store

    create_topics(settings.replace(partitions=1), topics=("enriched",))  # one partition: batches follow the offsets
    produce_jsonl(settings, [json.dumps(synthetic_result(i)) for i in range(20)], settings.topic("enriched"))
    if kind == "sqlite":
        dsn = f"sqlite:///{tmp_path / 'refuse.db'}"
    else:
        dsn = request.getfixturevalue("postgres").dsn
        _db_execute(dsn, "DROP TABLE IF EXISTS mmstream_results, mmstream_result_brands, mmstream_result_topics, "
                         "mmstream_rejects")
    store = open_store(dsn, settings)
    store.create_tables(["enriched"])
    store.close()
    create, drop = REFUSE[kind]
    _db_execute(dsn, create)
    db, group = Db(dsn), f"sink-refuse-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "mmstream", "sink", dsn, "--topics", "enriched", "--group", group,
               "--batch-size", "5", "--exit-when-idle", "4"]
    failed = subprocess.run(command, env=settings_env(settings), capture_output=True, text=True, timeout=180)
    assert failed.returncode != 0 and "refuses r7" in failed.stderr, failed.stderr[-3000:]
    written = sorted(int(r[0][1:]) for r in db.rows("SELECT id FROM mmstream_results"))
    assert 7 not in written and written == list(range(len(written))), written  # the batches before r7's, whole
    _db_execute(dsn, drop)  # the database is fixed: start the sink again
    again = subprocess.run(command, env=settings_env(settings), capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(r[0] for r in db.rows("SELECT id FROM mmstream_results")) == sorted(f"r{i}" for i in range(20))
    final = [line for line in again.stderr.splitlines() if line.startswith("sink (")][-1]
    # it resumed with the refused batch: every record from the first one not written, none before it
    assert int(re.search(r"(\d+) records", final).group(1)) == 20 - len(written), (final, written)
    if kind == "postgresql":  # the server is the module's: leave its tables to the other tests
        _db_execute(dsn, "DROP TABLE mmstream_results, mmstream_result_brands, mmstream_result_topics, "
                         "mmstream_rejects")
