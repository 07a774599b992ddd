"""A thread that reads topics from their beginning, without a consumer group,
and reconnects when the broker goes away: the analytics feed and the
dashboard's live feed are both one (they differ only in what they read and
what they do with each record, :meth:`TopicFollower.consume`)."""
from __future__ import annotations

import logging
import threading
import warnings

from mmstream.errors import BrokerError
from mmstream.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.errors import KafkaError

log = logging.getLogger(__name__)
#: seconds between a lost connection and the next try
RECONNECT_WAIT = 1.0
#: the longest wait after repeated unexpected errors (it doubles from RECONNECT_WAIT)
MAX_WAIT = 30.0


class TopicFollower(threading.Thread):
    """``run`` calls :meth:`consume` until :meth:`stop`; a Kafka error (or the client
    factory's BrokerError: no connection) is logged with ``label`` and retried. Any other error
    is logged with its traceback and retried too, waiting longer each time it repeats (up to
    :data:`MAX_WAIT`): the thread never dies silently, leaving its worker on a state that no longer
    follows the topic. ``errors`` counts them and ``last_error`` says the latest, for status pages."""

    label = "topic follower"

    def __init__(self, settings: Settings, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.settings = settings
        self._stop_event = threading.Event()
        self.errors = 0
        self.last_error: str | None = None

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        wait = RECONNECT_WAIT
        while not self._stop_event.is_set():
            try:
                self.consume()
                wait = RECONNECT_WAIT
            except (KafkaError, BrokerError) as exc:
                log.warning("%s: %r; reconnecting", self.label, exc)
                self._stop_event.wait(RECONNECT_WAIT)
            except Exception as exc:  # noqa: BLE001 - a bug or a library's surprise must not end the thread
                self.errors += 1
                self.last_error = repr(exc)[:300]
                log.exception("%s: unexpected error; reading the topic again in %g s", self.label, wait)
                self._stop_event.wait(wait)
                wait = min(MAX_WAIT, 2 * wait)

    def consume(self) -> None:  # pragma: no cover - every follower implements it
        raise NotImplementedError
