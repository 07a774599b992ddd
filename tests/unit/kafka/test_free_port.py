"""``free_port``: a port for a server started next, never one an outgoing connection may take meanwhile."""
from __future__ import annotations

import socket

from mmstream.kafka.broker import _ephemeral_range, free_port


def test_ports_come_from_below_the_ephemeral_range_and_are_bindable():
    low, high = _ephemeral_range()
    assert 1024 < low < high
    ports = [free_port() for _ in range(50)]
    assert all(max(1024, low - 12_000) <= p < low for p in ports), ports
    assert len(set(ports)) > 40  # random, so two processes asking at once rarely meet
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_with_a_listener_is_never_given():
    low, _ = _ephemeral_range()
    held = []
    try:
        for _ in range(300):  # 300 listeners held: no later answer may be one of them
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", free_port()))
            except OSError:
                sock.close()
                raise
            sock.listen()
            held.append(sock)
        taken = {s.getsockname()[1] for s in held}
        assert len(taken) == 300
        assert all(free_port() not in taken for _ in range(200))
    finally:
        for sock in held:
            sock.close()
