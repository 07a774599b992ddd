"""TopicFollower's thread outlives what goes wrong in a read: Kafka errors and any other error are
retried, the others counted and their wait doubled (pure logic: no broker)."""
from __future__ import annotations

import threading
import warnings

from mmstream.kafka import follow
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.errors import KafkaConnectionError


class Flaky(follow.TopicFollower):
    label = "flaky"

    def __init__(self, failures: list[BaseException]) -> None:
        super().__init__(Settings.load(), "flaky")
        self.failures, self.calls, self.healthy = failures, 0, threading.Event()

    def consume(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.healthy.set()
        self._stop_event.wait()


def test_an_unexpected_error_is_logged_counted_and_retried_with_a_longer_wait(monkeypatch, caplog) -> None:
    monkeypatch.setattr(follow, "RECONNECT_WAIT", 0.01)
    monkeypatch.setattr(follow, "MAX_WAIT", 0.03)
    waits = []
    flaky = Flaky([RuntimeError("bug one"), KafkaConnectionError("broker away"), ValueError("bug two"),
                   KeyError("bug three")])
    real_wait = flaky._stop_event.wait
    monkeypatch.setattr(flaky._stop_event, "wait", lambda t=None: (waits.append(t), real_wait(t))[1])
    flaky.start()
    try:
        assert flaky.healthy.wait(5), "the follower gave up"
    finally:
        flaky.stop()
        flaky.join(5)
    assert not flaky.is_alive() and flaky.calls == 5
    assert flaky.errors == 3 and flaky.last_error == "KeyError('bug three')"  # the Kafka error is not counted
    assert waits[:4] == [0.01, 0.01, 0.02, 0.03]  # unexpected: 0.01, 0.02, then the cap; Kafka: always 0.01
    unexpected = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(unexpected) == 3 and all(r.exc_info for r in unexpected) and "flaky" in unexpected[0].getMessage()
