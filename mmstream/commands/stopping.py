"""SIGTERM and SIGHUP stop a foreground command exactly as Ctrl-C does.

Python turns SIGINT into :class:`KeyboardInterrupt`, so Ctrl-C unwinds the command: its
``finally`` blocks and context managers stop the worker, the embedded broker and remove the
temporary folder. SIGTERM (``kill PID``, a service manager) and SIGHUP (the terminal closed)
killed the process outright and left all three behind. :func:`stop_on_signals` raises
:class:`Stopped` (a ``KeyboardInterrupt``) for them instead, once: a second signal during the
clean-up is ignored, so the clean-up runs to its end.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager
from types import FrameType
from typing import Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """The command was asked to stop by a signal other than SIGINT; ``128 + signum`` is its exit status."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals(signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """While inside, each of ``signals`` raises :class:`Stopped` in the main thread (once)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)  # the clean-up that follows is not interrupted
        raise Stopped(signum)

    # a signal ignored already (``nohup`` ignores SIGHUP) stays ignored
    signals = tuple(sig for sig in signals if signal.getsignal(sig) is not signal.SIG_IGN)
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
