"""One translation of the security settings per client library: kafka-python, aiokafka and Faust
agree on the protocol, the SASL fields and TLS, and refuse the same mistakes."""
from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from mmstream.errors import ConfigError
from mmstream.kafka.security import aiokafka_config, authentication, faust_credentials, kafka_python_config
from mmstream.settings import Settings

SASL = dict(sasl_mechanism="SCRAM-SHA-512", sasl_username="u", sasl_password="p")


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])
def test_the_three_libraries_agree(protocol: str) -> None:
    settings = Settings.load(broker="h1:9092,h2:9093", security_protocol=protocol.lower(), **SASL)
    kp, aio = kafka_python_config(settings), aiokafka_config(settings)
    faust_auth = dict(credentials_to_aiokafka_auth(faust_credentials(settings)))
    assert kp["security_protocol"] == aio["security_protocol"] == faust_auth["security_protocol"] == protocol
    assert kp["bootstrap_servers"] == aio["bootstrap_servers"] == ["h1:9092", "h2:9093"]
    tls = "SSL" in protocol
    assert isinstance(aio.get("ssl_context"), ssl.SSLContext) == tls
    assert isinstance(faust_auth.get("ssl_context"), ssl.SSLContext) == tls
    if protocol.startswith("SASL_"):
        for config in (kp, aio, faust_auth):
            assert (config["sasl_mechanism"], config["sasl_plain_username"], config["sasl_plain_password"]) == (
                "SCRAM-SHA-512", "u", "p")
    else:
        assert "sasl_mechanism" not in kp and "sasl_mechanism" not in aio


@pytest.mark.parametrize("bad, named", [({"security_protocol": "TLS"}, "MMSTREAM_SECURITY_PROTOCOL"),
                                        ({"ssl_cafile": "/nowhere/ca.pem"}, "MMSTREAM_SSL_CAFILE")])
def test_every_translation_refuses_the_same_mistakes(bad: dict, named: str) -> None:
    settings = Settings.load(**bad)
    for translate in (kafka_python_config, aiokafka_config, faust_credentials):
        with pytest.raises(ConfigError, match=named):
            translate(settings)


def test_the_asyncapi_authentication(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    assert authentication(Settings.load()) is None
    assert authentication(Settings.load(security_protocol="SSL")) is None  # TLS without a client certificate
    assert authentication(Settings.load(security_protocol="SSL", ssl_certfile=str(cert))) == "tls"
    assert authentication(Settings.load(security_protocol="sasl_plaintext")) == "sasl"
