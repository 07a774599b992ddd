"""Where the worker's web server listens, checked before anything starts.

Faust binds its web server to its own ``web_bind`` (default 0.0.0.0); the worker passes
``MMSTREAM_WEB_HOST`` as both ``web_bind`` and ``web_host`` (:mod:`mmstream.worker.app`), and
refuses a bind beyond loopback without ``MMSTREAM_WEB_TOKEN`` (unless ``MMSTREAM_WEB_INSECURE=1``)
and a port another process holds, each with one line naming the setting to change.
"""
from __future__ import annotations

import errno
import socket

from mmstream.errors import ConfigError, PortInUseError

LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the web server on this machine: a loopback address (127.0.0.0/8,
    ::1) or ``localhost``. Any other name, and an empty host or 0.0.0.0 / :: (every interface), is not."""
    import ipaddress

    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(web_host: str, web_token: str, web_insecure: bool) -> str | None:
    """Refuse (ConfigError) a web server bound beyond loopback without a token, unless the operator
    said ``MMSTREAM_WEB_INSECURE=1``; then a warning to log (None when there is nothing to say)."""
    if is_loopback(web_host) or web_token:
        return None
    where = web_host or "every interface"
    if not web_insecure:
        raise ConfigError(
            f"MMSTREAM_WEB_HOST={web_host!r} serves the dashboard, the JSON API and /metrics on {where} with no "
            "token: set MMSTREAM_WEB_TOKEN (clients then send 'Authorization: Bearer <token>'), or bind to "
            "127.0.0.1, or set MMSTREAM_WEB_INSECURE=1 if something in front already authenticates")
    return (f"MMSTREAM_WEB_INSECURE=1: the dashboard, the JSON API and /metrics on {where} are open to anyone "
            "who can reach them")


def check_port_free(web_host: str, web_port: int) -> None:
    """PortInUseError (exit status 73) when ``web_host:web_port`` cannot be bound, now: a worker
    would otherwise load its models and then die in Faust's web server with a long traceback."""
    if web_port == 0:
        return
    try:
        infos = socket.getaddrinfo(web_host or None, web_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"MMSTREAM_WEB_HOST={web_host!r} does not resolve ({exc.strerror}); set an address "
                          "of this machine, e.g. 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does: TIME_WAIT is no owner
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(f"port {web_port} on {web_host} is taken by another process: stop it, or set "
                                     "MMSTREAM_WEB_PORT (or --web-port) to a free port") from None
            raise ConfigError(f"cannot listen on {web_host}:{web_port} ({exc.strerror}); set MMSTREAM_WEB_HOST to "
                              "an address of this machine and MMSTREAM_WEB_PORT to a port you may use") from None
