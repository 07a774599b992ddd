"""Security settings for a real Kafka reach the worker's Kafka client
(aiokafka, through Faust's credentials) from the environment."""
from __future__ import annotations

import ssl

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from mmstream.kafka.security import faust_credentials
from mmstream.errors import ConfigError
from mmstream.settings import Settings


def auth_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for key, value in env.items():
        monkeypatch.setenv(f"MMSTREAM_{key}", value)
    return dict(credentials_to_aiokafka_auth(faust_credentials(Settings.load())))


def test_plaintext_by_default(monkeypatch):
    assert auth_from_env(monkeypatch) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram(monkeypatch):
    auth = auth_from_env(monkeypatch, SECURITY_PROTOCOL="SASL_SSL", SASL_MECHANISM="SCRAM-SHA-512",
                         SASL_USERNAME="mmstream", SASL_PASSWORD="s3cret")
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("mmstream", "s3cret")
    assert isinstance(auth["ssl_context"], ssl.SSLContext) and auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_sasl_plaintext_has_no_tls(monkeypatch):
    auth = auth_from_env(monkeypatch, SECURITY_PROTOCOL="SASL_PLAINTEXT", SASL_MECHANISM="PLAIN",
                         SASL_USERNAME="u", SASL_PASSWORD="p")
    assert auth["security_protocol"] == "SASL_PLAINTEXT" and auth["ssl_context"] is None


def test_ssl_only(monkeypatch):
    auth = auth_from_env(monkeypatch, SECURITY_PROTOCOL="ssl")
    assert auth["security_protocol"] == "SSL" and isinstance(auth["ssl_context"], ssl.SSLContext)


def test_missing_ca_file_is_a_config_error(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="ssl_cafile"):
        auth_from_env(monkeypatch, SECURITY_PROTOCOL="SSL", SSL_CAFILE=str(tmp_path / "nope.pem"))


def test_unknown_protocol_is_a_config_error(monkeypatch):
    with pytest.raises(ConfigError, match="SASL_SSL"):
        auth_from_env(monkeypatch, SECURITY_PROTOCOL="TLS")


# -- the web token covers every route the worker serves ------------------------------------------------


