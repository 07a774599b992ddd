"""The client and the sink on a secured Apache Kafka (SASL_SSL, SCRAM-SHA-512, ACLs):
the worker's own security settings (``MMSTREAM_SECURITY_PROTOCOL`` ...) are all
they need; a principal without the ACLs is refused with the fix named."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import uuid
import warnings

import pytest

from mmstream.kafka.broker import free_port
from mmstream.kafka.clients import ensure_topics, produce_jsonl
from mmstream.settings import Settings
from test_downstream import synthetic_result
from test_kafka_security import USERS, allow, client_env, secure  # noqa: F401 - the secured cluster fixture

with warnings.catch_warnings():  # kafka-python 3.x warns on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import ACLOperation, ACLResourcePatternType, ResourceType

pytestmark = [pytest.mark.integration, pytest.mark.realkafka]


def test_the_sink_reads_a_secured_kafka_with_the_workers_settings_and_an_unlisted_principal_is_refused(
        secure, tmp_path):  # noqa: F811 - the fixture imported above
    unique = uuid.uuid4().hex[:10]
    admin_settings = Settings.load(broker=secure.url, topic_prefix=f"ds{unique}.", app_id=f"ds-{unique}",
                                   broker_session_timeout=6.0, web_port=free_port())
    topic = admin_settings.topic("enriched")
    ensure_topics(admin_settings, [topic], 2)
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
