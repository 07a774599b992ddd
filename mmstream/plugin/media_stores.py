"""Where media by reference may come from: ``MMSTREAM_MEDIA_STORES`` parsed into stores, a
``ref`` matched against them, and URLs redacted for dead letters and logs.

A store is a local directory (an absolute path or a ``file://`` URL) or an
``http(s)://host[:port]/prefix/`` URL. A URL matches a store when its scheme, host and
port are the store's and its path lies under the store's prefix, both as sent and
percent-decoded, with no ``.``/``..`` segment, backslash or NUL anywhere in it.
"""
from __future__ import annotations

import functools
import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from mmstream.errors import ConfigError

SETTING = "MMSTREAM_MEDIA_STORES"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Store:
    """One allowed prefix: ``kind`` "dir" (``root``: its real path) or "http"."""

    kind: str
    root: str = ""
    scheme: str = ""
    host: str = ""  # lower case; an IP literal without brackets
    port: int = 0
    path: str = ""  # the URL path prefix as listed, ending in "/"

    @property
    def host_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an IP address when the store names one (private addresses need that)."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def __str__(self) -> str:
        if self.kind == "dir":
            return self.root + "/"
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path}"


@functools.lru_cache(maxsize=16)
def parse_stores(text: str) -> tuple[Store, ...]:
    """The stores a ``MMSTREAM_MEDIA_STORES`` value lists (comma-separated); ConfigError naming the fix."""
    return tuple(_parse_one(part.strip()) for part in text.split(",") if part.strip())


def _bad(part: str, why: str) -> ConfigError:
    return ConfigError(f"{SETTING} lists {redact(part)!r}: {why}; list absolute directories, file:// URLs "
                       "or http(s)://host[:port]/prefix/ URLs, comma-separated.")


def _parse_one(part: str) -> Store:
    if "://" not in part:
        if not os.path.isabs(part):
            raise _bad(part, "a local store must be an absolute path")
        return Store("dir", root=os.path.realpath(part))
    url = urlsplit(part)
    scheme = url.scheme.lower()
    if scheme == "file":
        if url.netloc not in ("", "localhost") or url.query or url.fragment:
            raise _bad(part, "a file:// store is file:///absolute/dir (no host, query or fragment)")
        return _parse_one(unquote(url.path) or "/")
    if scheme not in DEFAULT_PORTS:
        raise _bad(part, f"the scheme {scheme!r} is not served")
    if "@" in url.netloc or url.query or url.fragment:
        raise _bad(part, "a store URL carries no credentials, query or fragment")
    try:
        port = url.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise _bad(part, "its port is not a number from 1 to 65535") from None
    if not url.hostname:
        raise _bad(part, "it names no host")
    path = url.path if url.path.endswith("/") else url.path + "/"
    if path_escapes(path):
        raise _bad(part, "its path has '.' or '..' segments, a backslash or a NUL")
    return Store("http", scheme=scheme, host=url.hostname.lower(), port=port, path=path)


def path_escapes(path: str) -> bool:
    """True when a URL path could leave a prefix on some server: ``.``/``..`` segments (also
    percent-encoded), a backslash or a NUL, as sent or decoded."""
    for form in (path, unquote(path), unquote(unquote(path))):
        if "\\" in form or "\0" in form or any(seg in (".", "..") for seg in form.split("/")):
            return True
    return False


def http_store_for(url: SplitResult, stores: tuple[Store, ...]) -> Store | None:
    """The HTTP store ``url`` lies under, or None (credentials in the URL match no store)."""
    try:
        port = url.port or DEFAULT_PORTS.get(url.scheme.lower(), 0)
    except ValueError:
        return None
    host = (url.hostname or "").lower()
    if "@" in url.netloc or not host or path_escapes(url.path):
        return None
    for store in stores:
        if (store.kind == "http" and store.scheme == url.scheme.lower() and store.host == host
                and store.port == port and url.path.startswith(store.path)
                and unquote(url.path).startswith(unquote(store.path))):
            return store
    return None


def dir_store_for(real_path: str, stores: tuple[Store, ...]) -> Store | None:
    """The local store whose directory holds ``real_path`` (already resolved), or None."""
    for store in stores:
        if store.kind == "dir" and real_path != store.root and \
                os.path.commonpath([real_path, store.root]) == store.root:
            return store
    return None


def redact(ref: str, limit: int = 200) -> str:
    """``ref`` fit for a dead letter or a log: credentials (``user:pass@``) and the query
    (tokens of signed URLs) replaced by ``***``, no fragment, at most ``limit`` characters."""
    if "://" in ref:
        try:
            url = urlsplit(ref)
        except ValueError:
            return "<an unparseable URL>"
        netloc = url.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        ref = f"{url.scheme}://{netloc}{url.path}" + ("?***" if url.query else "")
    return ref if len(ref) <= limit else ref[:limit] + "..."
