"""A secured Apache Kafka (tests/realkafka.py, ``security="sasl_ssl"``): a SASL_SSL
listener with SCRAM-SHA-512 logins, a throwaway CA, and ACLs that let the worker's
principal read its input and write its outputs only, and the producer's principal
write the posts only.

Accepted: the worker and ``mmstream produce`` with the right credentials. Refused at
start, with an error naming the setting to fix and nothing written: a wrong password,
a CA that did not sign the broker's certificate, a principal without the ACL.
Downstream: the sink reads the secured cluster with the worker's own security settings; a principal
without the ACLs is refused with the fix named.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Iterator

import pytest

from mmstream.commands.produce import produce_jsonl
from mmstream.kafka.admin import create_topics
from mmstream.settings import Settings
from mmstream.testing import consume, unique_settings
from mmstream.worker.run import OUTPUT_TOPICS, WORKER_READS, WORKER_WRITES
from realkafka import KafkaCluster, make_other_ca
from support import WorkerProcess, settings_env, synthetic_result

with warnings.catch_warnings():  # kafka-python 3.x warns on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

USERS = {"worker": "worker-secret", "producer": "producer-secret", "intruder": "intruder-secret"}


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    with KafkaCluster(tmp_path_factory.mktemp("secure"), nodes=1, security="sasl_ssl", users=USERS) as running:
        yield running


def allow(principal: str, operation: ACLOperation, kind: ResourceType, name: str,
          pattern: ACLResourcePatternType = ACLResourcePatternType.LITERAL) -> ACL:
    return ACL(f"User:{principal}", "*", operation, ACLPermissionType.ALLOW, ResourcePattern(kind, name, pattern))


@pytest.fixture
def stage(secure: KafkaCluster, tmp_path: Path):
    """Topics made by the admin (PLAINTEXT, the super user) under a fresh prefix, and
    ``grant(without=...)`` to give the worker and the producer their ACLs."""
    admin_settings = unique_settings(tmp_path / "data", broker=secure.url, broker_session_timeout=6.0)
    # every topic a worker would create (its principal may not): the outputs, and the analytics' own
    create_topics(admin_settings, roles=("worker", "analytics"))

    def grant(without: tuple[str, str] | None = None) -> None:
        s = admin_settings
        acls = [allow("producer", ACLOperation.WRITE, ResourceType.TOPIC, s.topic("posts")),
                allow("producer", ACLOperation.DESCRIBE, ResourceType.TOPIC, s.topic("posts")),
                allow("worker", ACLOperation.DESCRIBE, ResourceType.TOPIC, s.topic_prefix, ACLResourcePatternType.PREFIXED),
                # its consumer group and Faust's own topic (<app id>-__assignor-__leader)
                allow("worker", ACLOperation.READ, ResourceType.GROUP, s.app_id, ACLResourcePatternType.PREFIXED),
                allow("worker", ACLOperation.ALL, ResourceType.TOPIC, f"{s.app_id}-", ACLResourcePatternType.PREFIXED)]
        acls += [allow("worker", ACLOperation.READ, ResourceType.TOPIC, s.topic(t)) for t in WORKER_READS
                 if (t, "READ") != without]
        acls += [allow("worker", ACLOperation.WRITE, ResourceType.TOPIC, s.topic(t)) for t in WORKER_WRITES
                 if (t, "WRITE") != without]
        admin = secure.admin()
        try:
            admin.create_acls(acls)
        finally:
            admin.close()
        time.sleep(1.0)  # ACLs travel through the metadata log to the authorizer

    return admin_settings, grant


def client_env(secure: KafkaCluster, settings: Settings, user: str, password: str | None = None,
               cafile: Path | None = None) -> dict[str, str]:
    return {**settings_env(settings), "MMSTREAM_BROKER": secure.secure_url, "MMSTREAM_SECURITY_PROTOCOL": "SASL_SSL",
            "MMSTREAM_SASL_MECHANISM": "SCRAM-SHA-512", "MMSTREAM_SASL_USERNAME": user,
            "MMSTREAM_SASL_PASSWORD": password if password is not None else USERS[user],
            "MMSTREAM_SSL_CAFILE": str(cafile or secure.ca_file)}


def mmstream(*args: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str, float]:
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "mmstream", *args], env=env, capture_output=True, text=True,
                         timeout=timeout)
    return run.returncode, run.stdout + run.stderr, time.monotonic() - started


def everything(settings: Settings) -> list:
    """Every record on the prefix's topics, read by the admin."""
    return consume(settings, [settings.topic(t) for t in OUTPUT_TOPICS], until=lambda rs: False, timeout=3)


def posts_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps({"id": f"sec{i}", "created_at": 1764320400 + i,
                                        "text": f"secured post {i} about the lounge"}) + "\n" for i in range(n)))
    return path


def test_worker_and_producer_with_their_credentials_and_acls(secure, stage, tmp_path):
    settings, grant = stage
    grant()
    worker = WorkerProcess(settings, tmp_path / "worker.log", env=client_env(secure, settings, "worker"))
    try:
        code, out, _ = mmstream("produce", str(posts_file(tmp_path, 20)), env=client_env(secure, settings, "producer"))
        assert code == 0, out
        records = consume(settings, [settings.topic("enriched")], timeout=120,
                          until=lambda rs: len({r.key for r in rs}) >= 20)
        assert worker.alive(), worker.log()
    finally:
        worker.stop(timeout=30)
    assert {r.json()["id"] for r in records} == {f"sec{i}" for i in range(20)}, worker.log()


@pytest.mark.parametrize("command", ["produce", "worker"])
@pytest.mark.parametrize("case", ["wrong password", "wrong CA", "missing ACL"])
def test_refused_at_start_naming_the_setting_and_nothing_written(secure, stage, tmp_path, command, case):
    settings, grant = stage
    if case == "missing ACL":
        # the producer's principal has no ACL at all; the worker's lacks WRITE on its results
        grant(without=("enriched", "WRITE"))
        user = "intruder" if command == "produce" else "worker"
        env = client_env(secure, settings, user)
        expected = ("MMSTREAM_SASL_USERNAME", "may not", settings.topic("posts" if command == "produce" else "enriched"))
    else:
        grant()
        user = "producer" if command == "produce" else "worker"
        if case == "wrong password":
            env = client_env(secure, settings, user, password="not-the-password")
            expected = ("MMSTREAM_SASL_PASSWORD", "refused the SASL login")
        else:
            env = client_env(secure, settings, user, cafile=make_other_ca(tmp_path / "other"))
            expected = ("MMSTREAM_SSL_CAFILE", "not signed")
    args = ["produce", str(posts_file(tmp_path, 5))] if command == "produce" else ["worker"]
    code, out, took = mmstream(*args, env=env)
    assert code != 0, out[-3000:]
    for part in expected:
        assert part in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert took < 60, f"took {took:.0f} s to refuse"
    assert everything(settings) == [], "a refused client wrote records"


# -- downstream: the sink and the reader on the secured cluster ---------------------------------------------

def test_the_sink_reads_a_secured_kafka_with_the_workers_settings_and_an_unlisted_principal_is_refused(
        secure, tmp_path):
    unique = uuid.uuid4().hex[:10]
    admin_settings = unique_settings(tmp_path / "data", broker=secure.url, broker_session_timeout=6.0)
    topic = admin_settings.topic("enriched")
    create_topics(admin_settings.replace(partitions=2), topics=("enriched",))
    produce_jsonl(admin_settings, [json.dumps(synthetic_result(i)) for i in range(120)], topic)
    group = f"downstream-{unique}"
    admin = secure.admin()
    try:
        admin.create_acls([allow("worker", ACLOperation.READ, ResourceType.TOPIC, topic),
                           allow("worker", ACLOperation.DESCRIBE, ResourceType.TOPIC, topic),
                           allow("worker", ACLOperation.READ, ResourceType.GROUP, "downstream-",
                                 ACLResourcePatternType.PREFIXED)])
    finally:
        admin.close()
    time.sleep(1.0)  # ACLs travel through the metadata log to the authorizer

    def sink(user: str, password: str | None = None) -> subprocess.CompletedProcess:
        db = tmp_path / f"{user}-{uuid.uuid4().hex[:4]}.db"
        done = subprocess.run([sys.executable, "-m", "mmstream", "sink", f"sqlite:///{db}", "--topics", "enriched",
                               "--group", group, "--exit-when-idle", "4"],
                              env=client_env(secure, admin_settings, user, password), capture_output=True, text=True,
                              timeout=180)
        done.db = db  # type: ignore[attr-defined]
        return done

    ok = sink("worker")
    assert ok.returncode == 0, ok.stderr[-2000:]
    conn = sqlite3.connect(ok.db)
    try:
        assert conn.execute("SELECT count(DISTINCT id), count(*) FROM mmstream_results").fetchone() == (120, 120)
    finally:
        conn.close()
    refused = sink("intruder")
    assert refused.returncode == 2 and "MMSTREAM_SASL_USERNAME" in refused.stderr, refused.stderr[-2000:]
    wrong = sink("worker", "not-the-password")
    assert wrong.returncode == 2 and "security settings" in wrong.stderr, wrong.stderr[-2000:]
