"""Operations of a real worker on the embedded broker: ``GET /ready`` flips from
503 to 200 while it starts; ``GET /metrics`` scraped after good and bad posts
went through agrees with what is on the output topics (results, dead letters
by reason and stage, per-brand sentiment), shows every stage's latency, and the
consumer lag of every partition at 0 once the stream is drained; the Grafana
dashboard queries only metrics the worker exports; with
``MMSTREAM_LOG_FORMAT=json`` every log line is one JSON object.
"""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from mmstream.settings import Settings
from support import WorkerProcess, produce, read_all, read_outcomes, theme_text, wait_until
from paths import REPO

ROOT = REPO
DASHBOARD = ROOT / "deploy" / "compose" / "grafana" / "dashboards" / "mmstream.json"
BRANDS = '[brands.brewly]\naliases = ["brewly coffee", "#brewly"]\n\n[brands.zenbank]\n'


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scrape(port: int) -> dict[str, list[tuple[dict, float]]]:
    """Every sample of ``GET /metrics``: name -> [(labels, value)]."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, body[:500]
    samples: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(v for ls, v in samples.get(name, []) if all(ls.get(k) == x for k, x in labels.items()))


def posts() -> tuple[list, Counter]:
    """Good posts (some naming brands) and bad ones of five kinds; the reasons expected."""
    good = [{"id": f"ok-{i}", "created_at": time.time() - 5, "text": theme_text("coffee", i) +
             (" at brewly coffee" if i % 3 == 0 else "") + (" #zenbank" if i % 5 == 0 else "")} for i in range(30)]
    bad = (["{not json"] * 3 + [json.dumps({"id": f"no-time-{i}", "text": "hello"}) for i in range(2)]
           + [json.dumps({"created_at": time.time(), "text": "who am i"})]
           + [json.dumps({"id": f"empty-{i}", "created_at": time.time(), "text": ""}) for i in range(2)]
           + [json.dumps({"id": "nothing", "created_at": time.time()})])
    expected = Counter({("not_json", "decode"): 3, ("missing_created_at", "validate"): 2,
                        ("missing_id", "validate"): 1, ("empty_text", "validate"): 2, ("no_modality", "validate"): 1})
    return good + bad, expected


@pytest.mark.both_brokers
def test_metrics_ready_and_json_logs(settings: Settings, tmp_path: Path) -> None:
    brands = tmp_path / "brands.toml"
    brands.write_text(BRANDS)
    log = tmp_path / "worker.log"
    # at info the worker logs its start-up (Faust's own lines among them): every line must be JSON
    worker = WorkerProcess(settings, log, env={"MMSTREAM_LOG_FORMAT": "json", "MMSTREAM_LOG_LEVEL": "info",
                                                     "MMSTREAM_BRANDS_FILE": str(brands),
                                                     "MMSTREAM_WORKER_ID": "obs-test-worker"})
    port = settings.web_port
    try:
        # /ready while the worker starts: 503 (with what it waits for) until it is ready, then 200
        statuses: list[int] = []
        answers: list[dict] = []

        def ready() -> bool:
            assert worker.alive(), worker.log()
            status, body = http_get(f"http://127.0.0.1:{port}/ready")
            statuses.append(status)
            answers.append(json.loads(body))
            return status == 200

        wait_until(ready, 120, "GET /ready to answer 200", every=0.05)
        assert statuses[0] == 503, statuses[:5]
        assert set(statuses) == {503, 200} and statuses.index(200) == len(statuses) - 1, statuses
        first = answers[0]
        assert first["ready"] is False and not all(c["ok"] for c in first["checks"].values()), first
        last = answers[-1]
        assert last["ready"] is True and last["checks"]["models"]["ok"], last
        assert last["checks"]["assignment"]["posts_partitions"] == list(range(settings.partitions)), last
        status, body = http_get(f"http://127.0.0.1:{port}/health")  # liveness unchanged
        assert status == 200 and json.loads(body)["status"] == "ok"

        records, expected_dead = posts()
        produce(settings, records)
        results, dead = read_outcomes(settings, len(records), timeout=120)
        # nothing more is coming: read each output topic whole
        on_topic = read_all(settings, ["enriched", "dead-letter"], settle=1.0)
        assert len(on_topic) == len(results) + len(dead) == len(records)
        dead_on_topic = Counter((d["reason"], d["stage"]) for d in dead)
        assert dead_on_topic == expected_dead

        # the counters catch up with the last batch's delivery; the lag is then 0 everywhere
        def drained() -> dict | None:
            s = scrape(port)
            lags = s.get("mmstream_consumer_lag_records", [])
            done = value(s, "mmstream_posts_consumed_total") == len(records) and lags and all(v == 0 for _, v in lags)
            return s if done else None

        s = wait_until(drained, 30, "posts consumed = posts produced and consumer lag 0 on every partition")
        assert value(s, "mmstream_results_total") == len(results) == 30
        exported_dead = Counter({(ls["reason"], ls["stage"]): int(v) for ls, v in s["mmstream_dead_letters_total"]
                                 if v})
        assert exported_dead == dead_on_topic
        # lag: one sample per partition that had records, all 0, seconds 0 too
        lag_partitions = {ls["partition"] for ls, _ in s["mmstream_consumer_lag_records"]}
        with_records = {str(d["partition"]) for d in dead} | {str(r.partition) for r in on_topic}
        assert with_records <= lag_partitions
        assert all(v == 0 for _, v in s["mmstream_consumer_lag_seconds"])
        assert value(s, "mmstream_assigned_partitions") == settings.partitions
        # per-brand sentiment equals the results' brands and labels
        by_brand = Counter((b, r["sentiment"]["label"]) for r in results.values() for b in r["brands"]
                           if b in ("brewly", "zenbank"))
        assert by_brand and sum(by_brand.values()) == 10 + 6
        exported_brands = Counter({(ls["brand"], ls["sentiment"]): int(v) for ls, v in s["mmstream_brand_results_total"]
                                   if v})
        assert exported_brands == by_brand
        # histograms: every post's event-to-result latency, every batch's size, every stage timed
        assert value(s, "mmstream_event_to_result_seconds_count") == len(records)
        assert 0 < value(s, "mmstream_event_to_result_seconds_sum") < 120 * len(records)
        assert value(s, "mmstream_batch_size_posts_sum") == len(records)
        stages = {ls["stage"]: v for ls, v in s["mmstream_stage_duration_seconds_count"]}
        batches = value(s, "mmstream_batch_size_posts_count")
        assert stages["decode"] >= batches and stages["deliver"] == batches, (stages, batches)
        for stage in ("extract:text", "model", "enrich:brands"):
            assert 1 <= stages.get(stage, 0) <= batches, (stage, stages)
        assert any(k.startswith("enrich:") and k != "enrich:brands" for k in stages), stages
        assert value(s, "mmstream_ready") == 1 and value(s, "mmstream_analytics_feed_caught_up") == 1
        assert value(s, "mmstream_analytics_engine_here") == 1
        wait_until(lambda: value(scrape(port), "mmstream_analytics_engine_lag_records") == 0 or None, 30,
                   "the analytics engine to process every mention")
        assert all(name.startswith("mmstream_") for name in s), sorted(n for n in s if not n.startswith("mmstream_"))

        # the dashboard queries only what the worker exports
        exported = set(s)
        dashboard = json.loads(DASHBOARD.read_text())
        queried = {m for expr in dashboard_expressions(dashboard) for m in metric_names(expr)}
        assert queried and queried <= exported, sorted(queried - exported)
    finally:
        code = worker.stop()
    assert code == 0, worker.log()
    check_json_log(log.read_text())


def metric_names(expr: str) -> set[str]:
    """The metrics a PromQL expression selects (promql-parser: a syntax error fails here)."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def dashboard_expressions(dashboard: dict) -> list[str]:
    """Every PromQL expression of the Grafana dashboard and of the Prometheus alert rules."""
    rules = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            exprs.append(target["expr"])
    for var in dashboard.get("templating", {}).get("list", []):  # label_values(METRIC, label): Grafana's
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        found = re.fullmatch(r"label_values\((\w+), *\w+\)", query or "")
        assert found, query
        exprs.append(found.group(1))
    return exprs


def check_json_log(text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message", "worker"} <= set(record), line
        assert record["worker"] == "obs-test-worker", line
        assert record["level"] in ("debug", "info", "warning", "error", "critical"), line
