"""deploy/ checked without Docker or a cluster: the compose file against the
compose spec's JSON Schema (the copy check-jsonschema vendors), the Kubernetes
manifests against the Kubernetes JSON Schemas (kubernetes-validate, strict:
unknown fields fail), the Dockerfile with hadolint, and how the pieces refer to
each other (topics, services, ports, secrets, labels). KEDA's ScaledObject and
TriggerAuthentication are custom resources no package here ships a schema for:
their structure and references are checked by hand below. Each tool is also
shown to fail on a broken copy, so a pass means something. The Grafana
dashboard's queries are checked against a real worker's metrics in
tests/integration/test_observability.py.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from mmstream.worker.run import OUTPUT_TOPICS
from paths import REPO

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.31"
BIN = Path(sys.executable).parent


def check_compose(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True)


# -- compose -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_matches_the_compose_spec(tmp_path: Path) -> None:
    ok = check_compose(COMPOSE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("    stop_grace_period: 75s", "  stop_grace_period: 75s", 1)
                      .replace('      - "6066:6066"', '      6066: 6066', 1))
    bad = check_compose(broken)
    assert bad.returncode != 0 and "ports" in bad.stdout + bad.stderr, bad.stdout


def test_compose_kafka_is_three_kraft_nodes(compose: dict) -> None:
    services = compose["services"]
    nodes = {name: s for name, s in services.items() if s.get("image", "").startswith("apache/kafka") and
             "KAFKA_NODE_ID" in s.get("environment", {})}
    assert len(nodes) == 3
    ids = sorted(int(s["environment"]["KAFKA_NODE_ID"]) for s in nodes.values())
    assert ids == [1, 2, 3]
    for name, s in nodes.items():
        env = s["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
        voters = dict(v.split("@") for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
        assert voters[str(env["KAFKA_NODE_ID"])] == f"{name}:9093"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == 2 and env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == 3
        assert "healthcheck" in s
    assert len({s["environment"]["CLUSTER_ID"] for s in nodes.values()}) == 1


def test_compose_creates_every_topic_before_the_workers_start(compose: dict) -> None:
    services = compose["services"]
    topics = services["topics"]
    assert all(topics["depends_on"][n]["condition"] == "service_healthy" for n in ("kafka-1", "kafka-2", "kafka-3"))
    # every topic from the catalogue, by the command the workers' image carries, with the workers' settings
    # (a hand-written script made mentions with one partition after the analytics were partitioned)
    assert topics["image"] == "mmstream:local" and topics["command"] == ["mmstream", "topics", "--create"]
    assert int(topics["environment"]["MMSTREAM_REPLICATION_FACTOR"]) == 3
    workers = {n: s for n, s in services.items() if n.startswith("worker-")}
    assert len(workers) == 2
    for name, w in workers.items():
        env = w["environment"]
        assert w["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert w["build"]["dockerfile"] == "deploy/Dockerfile" and (COMPOSE.parent / w["build"]["context"]
                                                                     / w["build"]["dockerfile"]).is_file()
        assert sorted(env["MMSTREAM_BROKER"].removeprefix("kafka://").split(",")) == [
            f"kafka-{i}:9092" for i in (1, 2, 3)]
        assert env["MMSTREAM_WORKER_ID"] == name and env["MMSTREAM_WEB_HOST"] == "0.0.0.0"
        for key in ("MMSTREAM_PARTITIONS", "MMSTREAM_ANALYTICS_PARTITIONS", "MMSTREAM_TOPIC_PREFIX", "MMSTREAM_BROKER"):
            assert env.get(key) == topics["environment"].get(key), key
        assert "/ready" in " ".join(w["healthcheck"]["test"])
        for volume in w["volumes"]:
            source = volume.split(":")[0]
            assert not source.startswith(".") or (COMPOSE.parent / source).exists(), volume


def test_compose_prometheus_scrapes_the_workers_and_grafana_has_the_dashboard(compose: dict) -> None:
    services = compose["services"]
    config = yaml.safe_load((COMPOSE.parent / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    workers = {f"{n}:{s['environment']['MMSTREAM_WEB_PORT']}" for n, s in services.items() if n.startswith("worker-")}
    assert targets == workers
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"
    mounts = {v.split(":")[1]: COMPOSE.parent / v.split(":")[0] for v in services["prometheus"]["volumes"]
              if v.startswith("./")}
    for rule_file in config["rule_files"]:
        assert mounts[rule_file].is_file(), rule_file
    grafana = {v.split(":")[1]: COMPOSE.parent / v.split(":")[0] for v in services["grafana"]["volumes"]
               if v.startswith("./")}
    provider = yaml.safe_load((grafana["/etc/grafana/provisioning"] / "dashboards" / "mmstream.yml").read_text())
    dashboards = grafana[provider["providers"][0]["options"]["path"]]
    dashboard = json.loads((dashboards / "mmstream.json").read_text())
    source = yaml.safe_load((grafana["/etc/grafana/provisioning"] / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 8 and all(p["datasource"]["uid"] == uid for p in panels)
    titles = " ".join(p["title"].lower() for p in panels)
    for subject in ("throughput", "lag", "event to result", "dead letters", "brand"):
        assert subject in titles, subject


# -- Kubernetes ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc.get("metadata", {}).get("name", path.name))] = doc
    return docs


def test_kubernetes_manifests_match_the_kubernetes_schemas(manifests: dict) -> None:
    checked = 0
    for (kind, name), doc in manifests.items():
        if doc["apiVersion"].startswith(("keda.sh/", "kustomize.config.k8s.io/")):
            continue  # custom resources: no schema here (see below)
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 6
    broken = copy.deepcopy(manifests[("StatefulSet", "mmstream")])
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest(manifests: dict) -> None:
    kustomization = manifests[("Kustomization", "kustomization.yaml")]
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S.glob("*.yaml")
                                                          if p.name != "kustomization.yaml")


def test_statefulset_probes_resources_data_dir_and_secrets(manifests: dict) -> None:
    sts = manifests[("StatefulSet", "mmstream")]
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    config = manifests[("ConfigMap", "mmstream")]["data"]
    port = int(config["MMSTREAM_WEB_PORT"])
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["http"] == port
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["terminationGracePeriodSeconds"] >= 60
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == config["MMSTREAM_DATA_DIR"]  # the engine's checkpoints on the claim
    assert [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]] == ["data"]
    assert config["MMSTREAM_BRANDS_FILE"].startswith(mounts["config"] + "/")
    assert config["MMSTREAM_SSL_CAFILE"].startswith(mounts["kafka-tls"] + "/")
    assert config["MMSTREAM_SECURITY_PROTOCOL"] in ("SASL_SSL", "SASL_PLAINTEXT", "SSL")
    secret = manifests[("Secret", "mmstream-kafka")]
    keys = set(secret["stringData"])
    env = {e["name"]: e.get("valueFrom", {}) for e in container["env"]}
    for name in ("MMSTREAM_SASL_USERNAME", "MMSTREAM_SASL_PASSWORD"):
        ref = env[name]["secretKeyRef"]
        assert ref["name"] == "mmstream-kafka" and ref["key"] in keys
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert {i["key"] for i in volumes["kafka-tls"]["secret"]["items"]} <= keys
    assert {i["key"] for i in volumes["config"]["configMap"]["items"]} <= set(config)
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pdb = manifests[("PodDisruptionBudget", "mmstream")]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for service in ("mmstream", "mmstream-workers"):
        assert manifests[("Service", service)]["spec"]["selector"].items() <= labels.items()
    assert manifests[("Service", "mmstream-workers")]["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == "mmstream-workers"


#: what KEDA's Kafka scaler reads from a TriggerAuthentication (keda.sh docs, scalers/apache-kafka)
KEDA_KAFKA_AUTH = {"sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword", "oauthTokenEndpointUri",
                   "scopes", "awsRegion"}


def test_keda_scaled_object_scales_the_workers_on_their_consumer_lag(manifests: dict) -> None:
    scaled = manifests[("ScaledObject", "mmstream")]
    config = manifests[("ConfigMap", "mmstream")]["data"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "StatefulSet", "mmstream")
    assert (K8S / "statefulset.yaml").exists() and ("StatefulSet", target["name"]) in manifests
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["maxReplicaCount"] <= int(config["MMSTREAM_PARTITIONS"])  # no idle workers
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["consumerGroup"] == config["MMSTREAM_APP_ID"]
    assert meta["topic"] == config["MMSTREAM_TOPIC_PREFIX"] + "posts"
    assert meta["bootstrapServers"] == config["MMSTREAM_BROKER"].removeprefix("kafka://")
    assert int(meta["lagThreshold"]) > 0 and meta["allowIdleConsumers"] == "false"
    assert all(isinstance(v, str) for v in meta.values())  # KEDA's metadata is a map of strings
    auth = manifests[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
    secret = manifests[("Secret", "mmstream-kafka")]["stringData"]
    params = {}
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["parameter"] in KEDA_KAFKA_AUTH, ref
        assert ref["name"] == "mmstream-kafka" and ref["key"] in secret, ref
        params[ref["parameter"]] = secret[ref["key"]]
    # the scaler authenticates as the workers do
    keda_names = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
    assert params["sasl"] == keda_names[config["MMSTREAM_SASL_MECHANISM"]]
    assert params["tls"] == ("enable" if config["MMSTREAM_SECURITY_PROTOCOL"].endswith("SSL") else "disable")


# -- Dockerfile ----------------------------------------------------------------------------------------
def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "hadolint"), "--no-color", str(path)], capture_output=True, text=True)


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    ok = hadolint(DEPLOY / "Dockerfile")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install .\n")
    failed = hadolint(bad)
    assert failed.returncode != 0 and "DL3007" in failed.stdout, failed.stdout  # ":latest" is caught


def test_dockerfile_is_multi_stage_non_root_and_offline() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2 and " AS build" in stages[0]
    final = text[text.rindex("\nFROM "):]
    assert "COPY --from=build /opt/mmstream /opt/mmstream" in final
    user = re.search(r"^USER (\S+)", final, re.M)
    assert user and user.group(1).split(":")[0] not in ("0", "root")
    # nothing fetched in the image that runs: no package manager, no download, models from the build stage
    assert not re.search(r"\b(pip|apt-get|curl|wget)\b", final)
    assert re.search(r"^RUN --network=none .*mmstream score", final, re.M)  # the models run with the network off
    ignore = [line for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if line and not line.startswith("#")]
    assert ignore[0] == "**" and "!mmstream/**" in ignore and "!plugins/**" in ignore  # the context: source only


#: the built-in plugins the root pyproject installs ("mmstream-NAME @ {root:uri}/plugins/NAME")
BUILT_IN_PLUGINS = tuple(re.findall(r"mmstream-(\w+) @ \{root:uri\}/plugins/(?:\w+)",
                                    (REPO / "pyproject.toml").read_text()))


def test_the_image_install_carries_the_models_and_scores_offline(tmp_path: Path) -> None:
    """What the Dockerfile's stages do, without Docker: wheels of mmstream and the built-in
    plugins (``pip install .`` builds the same), installed into a fresh virtualenv (not
    editable, so nothing is read from the checkout), then ``mmstream score`` over the
    bundled samples with the network off (``unshare -n``) and an empty home."""
    root = DEPLOY.parent
    wheels = tmp_path / "wheels"
    built_in = [str(root / "plugins" / name) for name in BUILT_IN_PLUGINS]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(root),
                    *built_in], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    *map(str, sorted(wheels.glob("*.whl")))], check=True)
    # the third-party dependencies from this environment, behind the fresh install (its .pth files,
    # the editable checkout among them, are not processed from a directory added this way)
    import numpy

    (site / "zz_dependencies.pth").write_text(str(Path(numpy.__file__).parent.parent) + "\n")
    home = tmp_path / "home"
    home.mkdir()
    modules = ", ".join(["mmstream", *(f"mmstream_{name}" for name in BUILT_IN_PLUGINS)])
    script = (f"import sys, {modules}\n"
              f"assert all(m.__file__.startswith(sys.prefix) for m in ({modules}))\n"
              "from mmstream.commands.cli import main\n"
              "sys.exit(main())\n")
    samples = site / "mmstream" / "samples" / "posts.jsonl"
    command = [str(venv / "bin" / "python"), "-c", script, "score", str(samples), "-o", str(tmp_path / "out.jsonl")]
    offline = subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "MMSTREAM_ONNX_THREADS": "1"}
    done = subprocess.run((["unshare", "-n"] if offline else []) + command, env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 3, done.stdout + done.stderr  # the samples' bad posts: "some lines failed"
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert len(lines) == len(samples.read_text().splitlines()) and lines
    results = [r for r in map(json.loads, lines) if "sentiment" in r]
    assert results and all(r["model"].startswith("mmstream-fused") for r in results)
    if not offline:
        pytest.skip("scored from the installed wheels, but 'unshare -n' (root) was not available to cut the network")


def test_workers_beyond_loopback_carry_a_web_token_and_prometheus_sends_it(compose: dict, manifests: dict) -> None:
    """A worker on 0.0.0.0 refuses to start without MMSTREAM_WEB_TOKEN (tests/integration/test_web_bind.py): every
    deployment that binds beyond loopback must hand it one, and Prometheus must send it to scrape /metrics."""
    services = compose["services"]
    for name, service in services.items():
        if name.startswith("worker-"):
            env = service["environment"]
            assert env["MMSTREAM_WEB_HOST"] == "0.0.0.0" and env["MMSTREAM_WEB_TOKEN"].startswith(
                "${MMSTREAM_WEB_TOKEN:?"), name  # compose refuses to start without the variable
    config = yaml.safe_load((COMPOSE.parent / "prometheus" / "prometheus.yml").read_text())
    auth = config["scrape_configs"][0]["authorization"]
    secret = auth["credentials_file"].removeprefix("/run/secrets/")
    assert auth["type"] == "Bearer" and secret in services["prometheus"]["secrets"]
    assert compose["secrets"][secret]["environment"] == "MMSTREAM_WEB_TOKEN"
    sts = manifests[("StatefulSet", "mmstream")]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("valueFrom", {}) for e in container["env"]}
    ref = env["MMSTREAM_WEB_TOKEN"]["secretKeyRef"]
    assert ref["key"] in manifests[("Secret", ref["name"])]["stringData"]


def test_lanes_one_worker_of_each_in_compose_a_media_deployment_scaled_on_its_own_lag(compose: dict,
                                                                                       manifests: dict) -> None:
    """docs/architecture.md, "Lanes": compose runs a text worker and a media worker; Kubernetes runs the text
    lane as the StatefulSet and the media lane as a Deployment, each scaled by KEDA on its own group's lag;
    Grafana has per-lane panels."""
    lanes = {n: s["environment"].get("MMSTREAM_LANES") for n, s in compose["services"].items()
             if n.startswith("worker-")}
    assert sorted(lanes.values()) == ["media", "text"], lanes
    config = manifests[("ConfigMap", "mmstream")]["data"]
    sts = manifests[("StatefulSet", "mmstream")]["spec"]["template"]["spec"]["containers"][0]
    assert sts["args"] == ["worker", "--lanes", "text"]
    media = manifests[("Deployment", "mmstream-media")]
    (container,) = media["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker", "--lanes", "media"] and container["image"] == sts["image"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    labels = media["spec"]["template"]["metadata"]["labels"]
    assert media["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # the media pods are not behind the text workers' services and budget (their selectors differ)
    for kind, name in (("Service", "mmstream"), ("Service", "mmstream-workers"), ("PodDisruptionBudget", "mmstream")):
        doc = manifests[(kind, name)]["spec"]
        selector = doc.get("selector", {})
        assert not (selector.get("matchLabels", selector).items() <= labels.items()), name
    scaled = manifests[("ScaledObject", "mmstream-media")]
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "mmstream-media")
    (trigger,) = scaled["spec"]["triggers"]
    meta = trigger["metadata"]
    assert meta["consumerGroup"] == config["MMSTREAM_APP_ID"] + "-media"  # mmstream.lanes.media_group
    assert meta["topic"] == config["MMSTREAM_TOPIC_PREFIX"] + "media"
    assert scaled["spec"]["maxReplicaCount"] <= int(config["MMSTREAM_PARTITIONS"])  # media has as many partitions
    assert meta["allowIdleConsumers"] == "false" and all(isinstance(v, str) for v in meta.values())
    assert trigger["authenticationRef"]["name"] == manifests[("ScaledObject", "mmstream")]["spec"]["triggers"][0][
        "authenticationRef"]["name"]
    dashboard = json.loads((COMPOSE.parent / "grafana" / "dashboards" / "mmstream.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in ("mmstream_lane_lag_records", "mmstream_lane_queue_depth", "mmstream_lane_processing_seconds",
                   "mmstream_lane_result_lag_seconds", "mmstream_lane_media_seconds_total"):
        assert metric in exprs, metric
    assert "by (le, lane)" in exprs and "by (lane)" in exprs


def test_the_runbooks_acls_and_topics_are_the_catalogues() -> None:
    """deploy/README.md's ACL loops grant exactly what a worker checks at start, and its topic commands are what
    ``mmstream topics --script`` prints (a runbook written by hand had drifted: no media, no window-totals)."""
    from mmstream.kafka.catalogue import CATALOGUE, WORKER_READS, WORKER_WRITES

    readme = (DEPLOY / "README.md").read_text()
    granted = {op: set(names.split()) for names, op in re.findall(r"^for t in ([a-z -]+); do \$T --operation (Read|Write) "
                                                                  r"--topic mmstream\.\$t; done$", readme, re.M)}
    assert granted == {"Read": set(WORKER_READS), "Write": set(WORKER_WRITES)}
    created = re.findall(r"^kafka-topics\.sh .* --topic mmstream\.([a-z-]+) ", readme, re.M)
    assert created == [t.name for t in CATALOGUE]
