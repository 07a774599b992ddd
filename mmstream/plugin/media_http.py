"""Fetching a media ``ref`` from an HTTP(S) store, with the standard library only.

Guards: the URL (and every redirect hop) lies under a listed store; the host's addresses
are public, or the store lists that address itself (``http://127.0.0.1:9000/media/``), and
the connection goes to the address that was checked (no second DNS answer); one deadline
for the whole fetch, redirects and DNS included, enforced by a timer that shuts the socket;
at most ``max_bytes + 1`` bytes read; no proxy, no decompression, no cookies.
"""
from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from typing import Callable
from urllib.parse import SplitResult, urljoin, urlsplit

from mmstream.errors import PostError
from mmstream.plugin.media_stores import SETTING, Store, http_store_for, redact

MAX_REDIRECTS = 5
CHUNK = 65_536
_REDIRECTS = (301, 302, 303, 307, 308)

Fail = Callable[[str, str], PostError]


def fetch(ref: str, stores: tuple[Store, ...], *, max_bytes: int, timeout: float, fail: Fail,
          too_large: Callable[[int], PostError]) -> bytes:
    """The body of ``ref`` (already known to be an http(s) URL); PostErrors made by ``fail``."""
    deadline = time.monotonic() + timeout
    url = ref
    for hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        store = http_store_for(parts, stores)
        if store is None:
            via = f"redirected (hop {hop}) to {redact(url)}, which is" if hop else f"{redact(url)} is"
            raise fail("unsupported_media_source", f"{via} not under an allowed prefix of {SETTING}; list the "
                       "prefix there (http(s)://host[:port]/prefix/) or send the media from a listed store.")
        address = _checked_address(store, redact(url), deadline, fail)
        status, location, body = _get(parts, store, address, deadline, max_bytes, fail, too_large)
        if status in _REDIRECTS:
            if not location:
                raise fail("media_fetch_failed", f"{redact(url)} answered {status} without a Location; fix the store.")
            url = urljoin(url, location)
            continue
        return body
    raise fail("media_fetch_failed", f"{redact(ref)} redirected more than {MAX_REDIRECTS} times; send the "
               "final location.")


def _checked_address(store: Store, shown: str, deadline: float, fail: Fail) -> str:
    """The address to connect to: the store's IP literal, or the host's DNS answers, all public."""
    if store.host_ip is not None:
        return str(store.host_ip)
    answers = _resolve(store, shown, deadline, fail)
    for answer in answers:
        if not _public(ipaddress.ip_address(answer)):
            listed = f"{store.scheme}://{f'[{answer}]' if ':' in answer else answer}:{store.port}{store.path}"
            raise fail("unsupported_media_source", f"{shown}: its host {store.host} resolves to {answer}, a "
                       "private, loopback, link-local or reserved address; list that address itself in "
                       f"{SETTING} (e.g. {listed}) to allow it.")
    return answers[0]


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(store: Store, shown: str, deadline: float, fail: Fail) -> list[str]:
    """getaddrinfo within the deadline (in a daemon thread: the call itself cannot be timed out)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["answers"] = socket.getaddrinfo(store.host, store.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="mmstream-media-dns", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0))
    if "answers" not in box:
        why = f"did not resolve ({type(box['error']).__name__})" if "error" in box else "did not resolve in time"
        raise fail("media_fetch_failed", f"{shown}: its host {store.host} {why}; check the store and {SETTING}.")
    answers = [str(info[4][0]).split("%")[0] for info in box["answers"]]  # type: ignore[union-attr]
    if not answers:
        raise fail("media_fetch_failed", f"{shown}: its host {store.host} has no address; check {SETTING}.")
    return answers


class _Pinned(http.client.HTTPConnection):
    """A connection to a checked address, with the URL's host name for Host and TLS (SNI, certificate)."""

    def __init__(self, store: Store, address: str, deadline: float) -> None:
        super().__init__(store.host, store.port, timeout=max(deadline - time.monotonic(), 0.001))
        self.address, self.tls, self.deadline = address, store.scheme == "https", deadline

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        if self.tls:
            self.sock = _tls().wrap_socket(self.sock, server_hostname=self.host)
        if time.monotonic() >= self.deadline:  # the timer may have found no socket to shut yet
            raise TimeoutError


@functools.lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _get(parts: SplitResult, store: Store, address: str, deadline: float, max_bytes: int, fail: Fail,
         too_large: Callable[[int], PostError]) -> tuple[int, str | None, bytes]:
    url = redact(parts.geturl())
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise fail("media_fetch_failed", f"{url}: the fetch took over its time limit; speed up the store or raise "
                   "the plugin's fetch timeout.")
    conn = _Pinned(store, address, deadline)
    # the deadline, whatever the server does: shut the socket then (a drip of bytes resets socket timeouts)
    timer = threading.Timer(remaining, _shut, (conn,))
    timer.daemon = True
    timer.start()
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", target, headers={"Accept-Encoding": "identity", "User-Agent": "mmstream",
                                             "Connection": "close"})
        resp = conn.getresponse()
        if resp.status in _REDIRECTS:
            return resp.status, resp.getheader("Location"), b""
        if resp.status != 200:
            raise fail("media_fetch_failed", f"{url} answered HTTP {resp.status} {resp.reason[:80]}; check that "
                       "the object exists in the store and the store serves it.")
        declared = resp.getheader("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > max_bytes:
            raise too_large(int(declared))
        chunks, size = [], 0
        while size <= max_bytes:
            if time.monotonic() >= deadline:
                raise TimeoutError
            chunk = resp.read(min(CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise too_large(size)
        if time.monotonic() >= deadline:  # the timer cut the body short: not a whole file
            raise TimeoutError
        if declared and declared.strip().isdigit() and size < int(declared):
            raise fail("media_fetch_failed", f"{url} sent {size} of the {int(declared)} bytes it declared (the "
                       "connection closed early); check the store and resend the post.")
        return resp.status, None, b"".join(chunks)
    except PostError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if time.monotonic() >= deadline or isinstance(exc, TimeoutError):
            raise fail("media_fetch_failed", f"{url} did not deliver within the fetch's time limit; speed up the "
                       "store or raise the plugin's fetch timeout.") from None
        raise fail("media_fetch_failed", f"{url} could not be fetched ({type(exc).__name__}); check that the "
                   "store is up and reachable.") from None
    finally:
        timer.cancel()
        conn.close()


def _shut(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
