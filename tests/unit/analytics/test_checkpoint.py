"""Engine checkpoints: restoring one and going on gives what an engine that never
stopped gives; unusable checkpoints are skipped (files in a temporary data dir)."""
from __future__ import annotations

import numpy as np
import pytest

from mmstream.analytics.engine.core import AnalyticsEngine
from mmstream.analytics.engine.events import Mention
from mmstream.analytics.state.checkpoint import Checkpoints
from mmstream.settings import Settings

T0 = 1_764_320_400.0
THEMES = {"coffee": "espresso latte beans roast", "flight": "delay gate boarding crew",
          "phone": "battery screen charger update"}


def mentions(n: int, seed: int = 7, burst: range = range(1500, 1700)) -> list[Mention]:
    """Three themes (a direction in embedding space and their words each), two brands,
    about five hours of event time, and a burst of negative "brewly" posts (``burst``):
    windows close, topics are born, the spike detector fires."""
    rng = np.random.default_rng(seed)
    bases = {t: rng.normal(size=384) for t in THEMES}
    out, t = [], T0
    for i in range(n):
        theme = list(THEMES)[i % 3]
        vec = bases[theme] + 0.6 * rng.normal(size=384)
        label = ("positive", "neutral", "negative")[int(rng.integers(3))]
        brand = "acme" if i % 4 else "brewly"
        t += float(rng.uniform(7, 11))
        if i in burst:
            t, brand, label = t - 8.5, "brewly", "negative"
        words = " ".join(rng.choice(THEMES[theme].split(), size=3))
        out.append(Mention(f"m{i}", t, [brand], label, {"positive": 0.7, "neutral": 0.0, "negative": -0.7}[label],
                           [], (vec / np.linalg.norm(vec)).astype(np.float32), f"{words} #{i}"))
    return out


def feed(engine: AnalyticsEngine, batch: list[Mention], start: int) -> list:
    outputs = []
    for k, m in enumerate(batch):
        outputs += engine.process(m)
        engine.next_offset = start + k + 1
    return outputs


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.load(data_dir=str(tmp_path / "data"), topic_warmup=20, analytics_checkpoint_keep=2)


def test_checkpoints_hold_no_credentials(tmp_path):
    settings = Settings.load(data_dir=str(tmp_path / "data"), sasl_password="hunter2-secret", sasl_username="svc")
    engine = AnalyticsEngine(settings)
    feed(engine, mentions(50), 0)
    path = Checkpoints(settings).save(engine)
    assert b"hunter2-secret" not in path.read_bytes()
    assert Checkpoints(settings).load(at_most=50).settings is settings


def test_a_restored_engine_goes_on_exactly_as_one_that_never_stopped(settings):
    stream = mentions(2000)
    whole = AnalyticsEngine(settings)
    feed(whole, stream[:1200], 0)
    expected = feed(whole, stream[1200:], 1200)  # what the engine that never stopped writes after 1200
    assert whole.stats["windows_closed"] > 0 and sum(t.status == "active" for t in whole.miner.topics.values()) >= 2
    assert {"window-totals", "topics", "alerts"} <= {o.topic for o in expected}

    first = AnalyticsEngine(settings)
    feed(first, stream[:1200], 0)
    Checkpoints(settings).save(first)
    restored = Checkpoints(settings).load(at_most=1500)  # a worker committed at 1500: replays 1200..1500
    assert restored is not None and restored is not first and restored.next_offset == 1200
    assert restored.settings is not None and restored.settings.sasl_password == ""
    assert feed(restored, stream[1200:], 1200) == expected  # record for record
    assert restored.describe() == whole.describe()
    restored.lock.acquire()  # a fresh lock, not the saved engine's
    restored.lock.release()


def test_the_newest_checkpoint_at_or_before_the_offset_is_used_and_old_ones_are_pruned(settings):
    stream = mentions(300)
    engine = AnalyticsEngine(settings)
    checkpoints = Checkpoints(settings)
    for end in (100, 200, 300):
        feed(engine, stream[end - 100:end], end - 100)
        checkpoints.save(engine)
    assert checkpoints.offsets() == [200, 300]  # keep 2
    assert checkpoints.load(at_most=299).next_offset == 200
    assert checkpoints.load(at_most=300).next_offset == 300
    assert checkpoints.load(at_most=199) is None  # nothing at or before: a full replay
    assert checkpoints.load(at_most=300, newer_than=300) is None  # the engine is already there


def test_unusable_checkpoints_are_skipped(settings, caplog):
    stream = mentions(200)
    engine = AnalyticsEngine(settings)
    checkpoints = Checkpoints(settings)
    feed(engine, stream[:100], 0)
    checkpoints.save(engine)
    feed(engine, stream[100:], 100)
    checkpoints.save(engine)
    checkpoints.path(200).write_bytes(b"not a checkpoint")  # foreign: the older one is used
    assert checkpoints.load(at_most=500).next_offset == 100
    assert "not an mmstream checkpoint" in caplog.text
    # other window settings: the engine's state would mean something else
    other = Checkpoints(settings.replace(window_tumbling=120.0))
    assert other.directory == checkpoints.directory and other.load(at_most=500) is None
    assert "other settings" in caplog.text


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling this would create the marker file


def test_checkpoints_are_data_never_pickle(settings, tmp_path, caplog):
    import pickle

    engine = AnalyticsEngine(settings)
    feed(engine, mentions(100), 0)
    checkpoints = Checkpoints(settings)
    path = checkpoints.save(engine)
    head, header, _ = path.read_bytes().split(b"\n", 2)
    assert head == b"mmstream-analytics-checkpoint" and b'"format": 3' in header and b'"sha256"' in header
    marker = tmp_path / "pwned"
    checkpoints.path(150).write_bytes(pickle.dumps({"format": 1, "engine": _Boom(str(marker))}))
    assert checkpoints.load(at_most=150).next_offset == 100  # the pickled file is skipped, never loaded
    assert not marker.exists() and "not an mmstream checkpoint" in caplog.text


def test_a_corrupt_checkpoint_is_skipped_by_its_checksum_and_the_engine_replays(settings, caplog):
    engine = AnalyticsEngine(settings)
    feed(engine, mentions(100), 0)
    checkpoints = Checkpoints(settings)
    data = bytearray(checkpoints.save(engine).read_bytes())
    data[-20] ^= 0xFF  # one flipped byte in the body
    checkpoints.path(100).write_bytes(bytes(data))
    assert checkpoints.load(at_most=100) is None and "checksum" in caplog.text


def test_the_state_format_refuses_classes_it_does_not_list():
    from mmstream.analytics.state.codec import StateCodec, StateFormatError

    codec = StateCodec([])
    with pytest.raises(StateFormatError, match="not a state class"):
        codec.dumps({"x": _Boom("m")})
    with pytest.raises(StateFormatError, match="not a state class"):
        codec.loads(b'{"$o": "os.system", "n": 0, "v": {}}')
    same = codec.loads(codec.dumps({"a": (1, 2.5), "b": {3, 4}, 5: np.arange(3, dtype=np.float32)}))
    assert same["a"] == (1, 2.5) and same["b"] == {3, 4} and same[5].dtype == np.float32
