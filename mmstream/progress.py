"""A dependency-free progress line on stderr (only when stderr is a terminal,
otherwise a line every few seconds) for long work."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int | None = None, unit: str = "items", every: float = 5.0) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.done = 0
        self.start = self._last = time.monotonic()
        self.tty = sys.stderr.isatty()

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
