"""Where the web server really listens (issue 32, item 1): the kernel's socket table, not the setting.

A worker with default settings and `mmstream demo --serve` listen on loopback only; a bind beyond
loopback without a token refuses to start, with one line naming the fix; with the token (or
MMSTREAM_WEB_INSECURE=1, on purpose) it listens where it was told. A port another process holds
gives one line naming the setting and exit status 73, before any model loads (item 5).
"""
from __future__ import annotations

import ipaddress
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmstream.kafka.broker import free_port
from mmstream.web.bind import check_exposure, is_loopback
from support import WorkerProcess, run_worker, settings_env, wait_until

LISTEN = "0A"


def listening(port: int) -> list[str]:
    """Addresses with a socket in LISTEN state on ``port``, from /proc/net/tcp and tcp6."""
    found = []
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, hex_port = local.split(":")
            if state != LISTEN or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append(str(ipaddress.ip_address(packed)))
    return found


def _only_loopback(addresses: list[str]) -> bool:
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


@pytest.mark.unit
def test_is_loopback_and_the_refusal_name_the_fix():
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.1") and is_loopback("::1") and is_loopback("localhost")
    assert not any(is_loopback(h) for h in ("0.0.0.0", "", "::", "10.0.0.5", "example.com", "[::]"))
    with pytest.raises(Exception, match="MMSTREAM_WEB_TOKEN.*MMSTREAM_WEB_INSECURE"):
        check_exposure("0.0.0.0", "", False)
    assert check_exposure("0.0.0.0", "s3cret", False) is None
    assert "MMSTREAM_WEB_INSECURE" in check_exposure("0.0.0.0", "", True)


def test_a_default_worker_listens_on_loopback_only(settings, tmp_path):
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        addresses = wait_until(lambda: listening(settings.web_port), 120, "the worker's web server listening")
        assert _only_loopback(addresses), (addresses, worker.log())
    finally:
        worker.stop()


def test_beyond_loopback_needs_a_token_and_then_listens_there(settings, tmp_path):
    refused = run_worker(settings, {"MMSTREAM_WEB_HOST": "0.0.0.0"}, timeout=60)
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "MMSTREAM_WEB_TOKEN" in lines[0] and "MMSTREAM_WEB_INSECURE" in lines[0], lines
    assert listening(settings.web_port) == []

    worker = WorkerProcess(settings, tmp_path / "worker.log",
                           env={"MMSTREAM_WEB_HOST": "0.0.0.0", "MMSTREAM_WEB_TOKEN": "t0ken-for-the-test"})
    try:
        addresses = wait_until(lambda: listening(settings.web_port), 120, "the worker's web server listening")
        assert addresses == ["0.0.0.0"], (addresses, worker.log())
    finally:
        worker.stop()


def test_a_taken_web_port_is_one_line_and_status_73(settings):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.web_port))
        holder.listen()
        began = time.monotonic()
        run = run_worker(settings, timeout=60)
    assert run.returncode == 73, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and str(settings.web_port) in lines[0] and "MMSTREAM_WEB_PORT" in lines[0], lines
    assert time.monotonic() - began < 30  # before the models load


@pytest.mark.integration
def test_demo_serve_listens_on_loopback_only():
    demo = subprocess.Popen([sys.executable, "-m", "mmstream", "demo", "--serve", "--port", str(free_port()),
                             "--rate", "4", "--for", "120"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in demo.stdout:
            found = re.search(r"dashboard\s+http://[^:/]+:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "no dashboard URL printed"
        addresses = wait_until(lambda: listening(port), 60, "the demo's web server listening")
        assert _only_loopback(addresses), addresses
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()


def test_the_sinks_metrics_server_listens_on_loopback_only(settings, tmp_path):
    """`mmstream sink --metrics-port` served /metrics on 0.0.0.0 (prometheus_client's default); it has no
    token check, so beyond loopback it needs MMSTREAM_WEB_INSECURE=1."""
    port = free_port()
    command = [sys.executable, "-m", "mmstream", "sink", f"sqlite:///{tmp_path}/x.db", "--metrics-port", str(port),
               "--exit-when-idle", "60"]
    sink = subprocess.Popen(command, env=settings_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        addresses = wait_until(lambda: listening(port), 60, "the sink's metrics server listening")
        assert _only_loopback(addresses), addresses
    finally:
        sink.terminate()
        sink.wait(timeout=30)
    refused = subprocess.run(command, env={**settings_env(settings), "MMSTREAM_WEB_HOST": "0.0.0.0"},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "MMSTREAM_WEB_INSECURE" in refused.stderr, refused.stderr
