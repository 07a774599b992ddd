"""A dependency-free progress line on stderr (overwritten in place only when stderr is a
terminal, otherwise a new line every few seconds) for long work."""
from __future__ import annotations

import sys
import time
from typing import TextIO


def line_end(stream: TextIO | None = None) -> str:
    """How a progress line that will be overwritten ends: ``\\r`` on a terminal, ``\\n`` elsewhere
    (a log file, a pipe, journald), where carriage returns would glue the lines into one."""
    stream = sys.stderr if stream is None else stream
    try:
        return "\r" if stream.isatty() else "\n"
    except (AttributeError, ValueError):  # a closed or odd stream
        return "\n"


class Progress:
    def __init__(self, label: str, total: int | None = None, unit: str = "items", every: float = 5.0) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.done = 0
        self.start = self._last = time.monotonic()
        self.tty = line_end() == "\r"

    def __enter__(self) -> "Progress":
        return self

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= (0.2 if self.tty else self.every):
            self._last = now
            self._print(end="\r" if self.tty else "\n")

    def _print(self, end: str) -> None:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        total = f"/{self.total}" if self.total else ""
        pct = f" {100 * self.done / self.total:5.1f}%" if self.total else ""
        sys.stderr.write(f"{self.label}: {self.done}{total} {self.unit}{pct} {self.done / elapsed:,.0f}/s{end}")
        sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self.done:
            self._print(end="\n")
