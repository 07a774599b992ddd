"""Settings: grouped views (connection, limits, plugins, model, analytics, worker) over the
same flat attributes, and secrets that never print or pickle."""
from __future__ import annotations

import copy
import pickle
from dataclasses import fields

import pytest

from mmstream.errors import ConfigError
from mmstream.settings import GROUPS, Secret, Settings, group_of



def test_every_setting_is_in_one_group_and_the_flat_names_still_work():
    s = Settings.load(broker="127.0.0.1:1", max_text_chars=2, window_grace=5.0, batch_size=8)
    assert s.broker == "kafka://127.0.0.1:1" and s.connection["broker"] == s.broker
    assert s.limits["max_text_chars"] == 2 and s.analytics["window_grace"] == 5.0 and s.group("worker")["batch_size"] == 8
    names = [f.name for f in fields(Settings) if f.name not in ("plugin_env", "plugin_options")]
    grouped = [n for g in [*GROUPS, "worker"] for n in s.group(g)]
    assert sorted(grouped) == sorted(names)  # each exactly once
    assert group_of("topic_prefix") == "connection" and group_of("topic_birth") == "analytics"
    with pytest.raises(ConfigError, match="the groups are"):
        s.group("nope")


def test_secrets_never_print():
    s = Settings.load(sasl_password="hunter2-secret", sasl_username="svc", web_token="tok-9f8e7d")
    assert isinstance(s.sasl_password, Secret) and s.sasl_password == "hunter2-secret"  # usable as the string
    for text in (repr(s), str(s), repr(s.connection), str(s.describe())):
        assert "hunter2-secret" not in text and "tok-9f8e7d" not in text
    assert s.describe()["connection"]["sasl_password"] == "***" and s.describe()["connection"]["sasl_username"] == "svc"
    assert s.replace(batch_size=1).sasl_password == "hunter2-secret"  # replace keeps it


def test_secrets_never_pickle(monkeypatch):
    monkeypatch.setenv("MMSTREAM_PLUGIN_ACME_API_KEY", "key-5a5a5a")
    s = Settings.load(sasl_password="hunter2-secret", web_token="tok-9f8e7d")
    data = pickle.dumps(s)
    assert b"hunter2-secret" not in data and b"tok-9f8e7d" not in data and b"key-5a5a5a" not in data
    back = pickle.loads(data)
    assert back.sasl_password == "" and back.web_token == "" and back.broker == s.broker
    assert copy.deepcopy(s).sasl_password == ""
