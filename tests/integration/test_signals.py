"""``kill`` (SIGTERM) and a closed terminal (SIGHUP) stop ``mmstream demo``, ``demo --serve`` and
``mmstream broker`` as cleanly as Ctrl-C (issue 32, item 4): the embedded broker, the worker and
the demo's temporary folder are gone afterwards. Checked where it happens: the processes in
/proc, the folder on disk."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mmstream.kafka.broker import free_port



def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a zombie has exited; only its entry is left)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (children, grandchildren ...), pid -> command line."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                try:
                    found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                frontier.append(child)
    return found


class Command:
    """``mmstream ARGS`` in the background, its output collected line by line."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.tmp = tmp / "tmp"  # TMPDIR: where the demo makes its mmstream-demo-* folder
        self.tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(self.tmp), "MMSTREAM_ONNX_THREADS": "1"}
        # SIGHUP at its default in the child: under nohup (a CI started with it) the child would inherit
        # SIGHUP ignored, and mmstream leaves an ignored SIGHUP ignored on purpose (commands/stopping.py)
        self.proc = subprocess.Popen([sys.executable, "-m", "mmstream", *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                for pid in descendants(self.proc.pid):
                    os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                pytest.fail(f"no {text!r} within {timeout} s; output:\n{''.join(self.lines)[-3000:]}")
            time.sleep(0.2)

    def stop_with(self, signum: int, timeout: float = 60) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"still running {timeout} s after {signal.Signals(signum).name}")


def check_clean(command: Command, children: dict[int, str], signum: int) -> None:
    """Nothing the command started is left running, its folder is gone."""
    deadline = time.monotonic() + 10  # the orphans' reaping, should there be any
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: cmd for pid, cmd in children.items() if alive(pid)}
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # not left behind by the test either
    assert not left, f"left running after {signal.Signals(signum).name}: {left}"
    # (a library writes a 51-byte ``.ses`` file into any TMPDIR, outside mmstream's control: not counted)
    left_on_disk = [p.name for p in command.tmp.iterdir() if p.name.startswith(("mmstream", "tansu"))]
    assert left_on_disk == [], f"left on disk: {left_on_disk}"


def posts(tmp_path: Path) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "created_at": 1764320400 + i, "text": f"post {i}"}) + "\n"
                            for i in range(40)))
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_demo_stopped_by_a_signal_leaves_nothing_behind(tmp_path, signum):
    # one post every 2 s: still replaying when the signal comes
    demo = Command(tmp_path, "demo", "--posts", str(posts(tmp_path)), "--rate", "0.5", "--timeout", "300")
    demo.wait_for("posts   replaying", 120)
    children = descendants(demo.proc.pid)
    assert any("tansu" in cmd for cmd in children.values()), children
    assert any("mmstream worker" in cmd for cmd in children.values()), children
    assert [p.name[:14] for p in demo.tmp.iterdir()] == ["mmstream-demo-"]
    status = demo.stop_with(signum)
    check_clean(demo, children, signum)
    assert status == 128 + signum  # as Ctrl-C's 130


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_demo_serve_stopped_by_a_signal_leaves_nothing_behind(tmp_path, signum):
    serve = Command(tmp_path, "demo", "--serve", "--port", str(free_port()), "--posts", str(posts(tmp_path)))
    serve.wait_for("dashboard  http://", 240)
    children = descendants(serve.proc.pid)
    assert any("tansu" in cmd for cmd in children.values()) and any(
        "mmstream worker" in cmd for cmd in children.values()), children
    status = serve.stop_with(signum)
    check_clean(serve, children, signum)
    assert status == 0 and any("stopping" in line for line in serve.lines)  # as after Ctrl-C


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_broker_stopped_by_a_signal_stops_tansu(tmp_path, signum):
    broker = Command(tmp_path, "broker", "--port", str(free_port()))
    broker.wait_for("kafka://127.0.0.1:", 60)
    children = descendants(broker.proc.pid)
    assert any("tansu" in cmd for cmd in children.values()), children
    status = broker.stop_with(signum)
    check_clean(broker, children, signum)
    assert status == 0
