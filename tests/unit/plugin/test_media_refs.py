"""Media entries (mmstream/plugin/media.py): the shape check, inline base64, and media by
reference from local stores and from real HTTP servers on 127.0.0.1 (http.server in
threads): allowed fetches, HTTP errors, redirects in and out of the stores, slow and endless
servers, loopback not listed, symlink and ``..`` escapes. No broker: the ``unit`` tier."""
from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from mmstream.errors import ConfigError, PostError
from mmstream.plugin import Settings, check_media_list, read_media
from mmstream.plugin import media_http
from mmstream.plugin.media_http import _public
from mmstream.plugin.media_stores import parse_stores, redact

CLIP = bytes(range(256)) * 40  # 10,240 bytes
SECRET = b"the secret outside every store"
MB = 1 << 20


class Handler(BaseHTTPRequestHandler):
    """Routes by path; every request path is recorded in ``server.seen``."""

    protocol_version = "HTTP/1.1"
    server: "Server"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append(self.path)
        route = self.server.routes.get(self.path.split("?")[0])
        try:
            if route is None:
                self.send_error(404, "Not Found")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):  # the client hung up, as it should on a limit
            pass

    def body(self, data: bytes, status: int = 200, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Callable[[Handler], None]] = {}
        self.seen: list[str] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator[Callable[[], Server]]:
    servers: list[Server] = []

    def start() -> Server:
        server = Server()
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def drip(handler: Handler, head: bytes, every: float, limit: float = 20.0) -> None:
    """``head`` at once, then one byte every ``every`` s until the client leaves (or ``limit`` s)."""
    handler.wfile.write(head)
    end = time.monotonic() + limit
    while time.monotonic() < end:
        time.sleep(every)
        handler.wfile.write(b"x")
        handler.wfile.flush()


def endless_chunks(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        handler.wfile.write(chunk)


def no_length(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    for _ in range(80):  # 5 MB, no Content-Length
        handler.wfile.write(b"y" * 65536)


@pytest.fixture
def store(serve: Callable[[], Server]) -> Server:
    """A media store with every kind of behaviour under /media/, and a secret outside it."""
    server = serve()
    server.routes.update({
        "/media/clip.bin": lambda h: h.body(CLIP),
        "/media/empty.bin": lambda h: h.body(b""),
        "/media/forbidden": lambda h: h.body(b"no", status=403),
        "/media/redirect-in": lambda h: h.redirect("/media/clip.bin"),
        "/media/redirect-out": lambda h: h.redirect("/private/secret", 301),
        "/media/redirect-dots": lambda h: h.redirect("/media/../private/secret"),
        "/media/redirect-creds": lambda h: h.redirect(f"http://user:hunter2@127.0.0.1:{server.server_address[1]}"
                                                      "/private/secret?token=abc123"),
        "/media/redirect-loop": lambda h: h.redirect("/media/redirect-loop", 307),
        "/media/redirect-bare": lambda h: h.send_error(302),
        "/private/secret": lambda h: h.body(SECRET),
        "/media/big": lambda h: h.body(b"b" * (2 * MB)),
        "/media/lying-length": lambda h: h.body(b"short", length=100),
        "/media/no-length": no_length,
        "/media/endless": endless_chunks,
        "/media/slow-body": lambda h: drip(h, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0.2),
        "/media/slow-headers": lambda h: drip(h, b"HTTP/1.1 200 OK\r\nX-Slow: ", 0.2),
        "/media/silent": lambda h: time.sleep(5),
    })
    return server


def read(entry: dict, stores: str, *, max_bytes: int = MB, timeout: float = 5.0, **kw: object) -> bytes:
    return read_media(entry, Settings(media_stores=stores), max_bytes=max_bytes, where="videos[0]",
                      timeout=timeout, **kw)


def refused(entry: dict, stores: str, reason: str, **kw: object) -> PostError:
    with pytest.raises(PostError) as info:
        read(entry, stores, **kw)
    assert info.value.reason == reason, info.value.detail
    assert info.value.detail.startswith("videos[0]")
    return info.value


# --- the shape of a post's media list -----------------------------------------------------------------------

@pytest.mark.parametrize("value, reason, words", [
    ({"b64": "AAAA"}, "wrong_type", "must be a list"),
    ("AAAA", "wrong_type", "must be a list"),
    ([], "empty_value", "empty list"),
    ([["AAAA"]], "wrong_type", "must be an object"),
    ([1], "wrong_type", "got int"),
    ([{"b64": "AAAA", "ref": "/m/a"}], "wrong_type", "both b64 and ref"),
    ([{"url": "http://example.com/a.mp4"}], "wrong_type", 'under "ref"'),
    ([{"path": "/etc/passwd"}], "wrong_type", 'under "ref"'),
    ([{"b64": "AAAA", "codec": "h264"}], "wrong_type", "exactly one key"),
    ([{}], "wrong_type", "exactly one key"),
    ([{"b64": 12}], "wrong_type", "b64 must be a string"),
    ([{"ref": ["/m/a"]}], "wrong_type", "ref must be a string"),
    ([{"ref": "  "}], "empty_value", "blank"),
    ([{"b64": ""}], "empty_media", "empty"),
    ([{"ref": "/m/" + "a" * 5000}], "too_long", "5003 characters"),
])
def test_the_shape_check_names_the_fault_and_the_fix(value: object, reason: str, words: str) -> None:
    with pytest.raises(PostError) as info:
        check_media_list("videos", value, 4)
    assert (info.value.reason, info.value.stage) == (reason, "validate")
    assert words in info.value.detail and ";" in info.value.detail  # what is wrong; what to do


def test_the_shape_check_passes_good_lists_and_counts_entries() -> None:
    good = [{"b64": "AAAA"}, {"ref": "/m/a.mp4"}]
    assert check_media_list("audio", good, 2) == good
    with pytest.raises(PostError) as info:
        check_media_list("audio", good * 2, 3, setting="MMSTREAM_PLUGIN_AUDIO_MAX_CLIPS")
    assert info.value.reason == "too_many_items"
    assert "4 entries, more than the limit of 3" in info.value.detail
    assert "MMSTREAM_PLUGIN_AUDIO_MAX_CLIPS" in info.value.detail


# --- inline base64 --------------------------------------------------------------------------------------------

def test_base64_is_decoded_strictly() -> None:
    assert read({"b64": base64.b64encode(CLIP).decode()}, "") == CLIP
    for bad in ("AAA", "AA=A", "AAAA\nAAAA", "data:video/mp4;base64,AAAA", "AA-_", "ÀÀÀÀ"):
        assert "encode the raw file bytes" in refused({"b64": bad}, "", "invalid_base64").detail


def test_base64_size_is_checked_from_the_text_before_decoding() -> None:
    # invalid base64 over the limit: too large, so nothing was decoded
    error = refused({"b64": "!!!!" * 1000}, "", "media_too_large", max_bytes=2000)
    assert "3000 bytes, over the limit of 2000" in error.detail and "MMSTREAM_MAX_PAYLOAD_BYTES" in error.detail
    error = refused({"b64": base64.b64encode(CLIP).decode()}, "", "media_too_large", max_bytes=100,
                    setting="MMSTREAM_PLUGIN_VIDEO_MAX_BYTES", stage="extract:video")
    assert "MMSTREAM_PLUGIN_VIDEO_MAX_BYTES" in error.detail and error.stage == "extract:video"
    assert read({"b64": base64.b64encode(CLIP).decode()}, "", max_bytes=len(CLIP)) == CLIP


# --- which refs are allowed at all ----------------------------------------------------------------------------

def test_refs_need_a_listed_store(store: Server, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(CLIP)
    for ref in (f"{store.url}/media/clip.bin", str(tmp_path / "a.bin")):
        error = refused({"ref": ref}, "", "unsupported_media_source")
        assert "MMSTREAM_MEDIA_STORES" in error.detail and "no store is configured" in error.detail
    stores = f"{store.url}/media/,{tmp_path}/"
    for ref in ("a.bin", "ftp://127.0.0.1/media/a.bin", "gopher://x/", "//127.0.0.1/media/clip.bin",
                f"{store.url}/private/secret", f"{store.url}/mediaX/clip.bin", f"{store.url}/media/../private/secret",
                f"{store.url}/media/%2e%2e/private/secret", f"{store.url}/media/%252e%252e/private/secret",
                f"{store.url}/media/..%5cprivate", f"https://127.0.0.1:{store.server_address[1]}/media/clip.bin"):
        assert "MMSTREAM_MEDIA_STORES" in refused({"ref": ref}, stores, "unsupported_media_source").detail
    assert "/private/secret" not in store.seen and store.seen == []


def test_store_settings_are_checked() -> None:
    assert [str(s) for s in parse_stores(" http://Media.Example.com/clips , https://h:8443/a/b/,file:///srv/m")] \
        == ["http://media.example.com/clips/", "https://h:8443/a/b/", "/srv/m/"]
    for bad in ("relative/dir", "ftp://h/m/", "http://u:pw@h/m/", "http://h/m/?sig=1", "http://h:99999/m/",
                "http:///m/", "http://h/m/../x/", "file://host/srv/m"):
        with pytest.raises(ConfigError, match="MMSTREAM_MEDIA_STORES") as info:
            parse_stores(bad)
        assert "pw" not in str(info.value)
    error = refused({"ref": "/srv/m/a.mp4"}, "srv/m", "unsupported_media_source")
    assert "misconfigured" in error.detail


def test_credentials_and_tokens_never_reach_a_detail(store: Server) -> None:
    assert redact("https://alice:s3cr3t@h.example/m/a.mp4?X-Amz-Signature=abc#f") == "https://***@h.example/m/a.mp4?***"
    port = store.server_address[1]
    error = refused({"ref": f"http://alice:s3cr3t@127.0.0.1:{port}/media/clip.bin"}, f"{store.url}/media/",
                    "unsupported_media_source")
    error2 = refused({"ref": f"{store.url}/media/missing?token=s3cr3t"}, f"{store.url}/media/", "media_fetch_failed")
    error3 = refused({"ref": f"{store.url}/media/redirect-creds"}, f"{store.url}/media/", "unsupported_media_source")
    for e in (error, error2, error3):
        assert "s3cr3t" not in e.detail and "hunter2" not in e.detail and "abc123" not in e.detail, e.detail
    assert "?***" in error2.detail and "404" in error2.detail
    assert "/private/secret" not in store.seen


# --- HTTP(S) stores -------------------------------------------------------------------------------------------

def test_a_listed_http_store_serves_its_files(store: Server) -> None:
    stores = f"{store.url}/media/"
    assert read({"ref": f"{store.url}/media/clip.bin"}, stores) == CLIP
    assert read({"ref": f"{store.url}/media/redirect-in"}, stores) == CLIP  # a redirect within the prefix
    assert read({"ref": f"{store.url}/media/clip.bin?v=2"}, stores) == CLIP
    assert store.seen == ["/media/clip.bin", "/media/redirect-in", "/media/clip.bin", "/media/clip.bin?v=2"]


@pytest.mark.parametrize("path, reason, words", [
    ("/media/missing", "media_fetch_failed", "HTTP 404"),
    ("/media/forbidden", "media_fetch_failed", "HTTP 403"),
    ("/media/empty.bin", "empty_media", "0 bytes"),
    ("/media/lying-length", "media_fetch_failed", "sent 5 of the 100 bytes"),
    ("/media/redirect-out", "unsupported_media_source", "redirected (hop 1)"),
    ("/media/redirect-dots", "unsupported_media_source", "redirected (hop 1)"),
    ("/media/redirect-loop", "media_fetch_failed", "more than 5 times"),
    ("/media/redirect-bare", "media_fetch_failed", "without a Location"),
])
def test_http_failures_are_dead_letter_reasons(store: Server, path: str, reason: str, words: str) -> None:
    assert words in refused({"ref": store.url + path}, f"{store.url}/media/", reason).detail
    assert "/private/secret" not in store.seen


def test_each_redirect_hop_must_land_in_a_listed_store(store: Server, serve: Callable[[], Server]) -> None:
    other = serve()
    other.routes["/media/clip.bin"] = lambda h: h.body(CLIP[::-1])
    other.routes["/private/x"] = lambda h: h.body(SECRET)
    store.routes["/media/to-other"] = lambda h: h.redirect(f"{other.url}/media/clip.bin")
    store.routes["/media/to-other-private"] = lambda h: h.redirect(f"{other.url}/private/x")
    both = f"{store.url}/media/, {other.url}/media/"
    assert read({"ref": f"{store.url}/media/to-other"}, both) == CLIP[::-1]
    refused({"ref": f"{store.url}/media/to-other-private"}, both, "unsupported_media_source")
    # the other loopback server, not listed: never contacted
    error = refused({"ref": f"{store.url}/media/to-other"}, f"{store.url}/media/", "unsupported_media_source")
    assert other.url in error.detail and other.seen == ["/media/clip.bin"]


def test_loopback_is_reached_only_when_the_address_itself_is_listed(store: Server) -> None:
    port = store.server_address[1]
    error = refused({"ref": f"http://localhost:{port}/media/clip.bin"}, f"http://localhost:{port}/media/",
                    "unsupported_media_source")
    assert "127.0.0.1" in error.detail and "list that address itself" in error.detail and store.seen == []
    assert not any(_public(__import__("ipaddress").ip_address(a)) for a in (
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
        "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::"))
    assert _public(__import__("ipaddress").ip_address("93.184.216.34"))
    assert _public(__import__("ipaddress").ip_address("2606:4700::1111"))


@pytest.mark.parametrize("path", ["/media/slow-body", "/media/slow-headers", "/media/silent"])
def test_a_slow_store_costs_the_time_limit_and_no_more(store: Server, path: str) -> None:
    start = time.monotonic()
    error = refused({"ref": store.url + path}, f"{store.url}/media/", "media_fetch_failed", timeout=1.0)
    elapsed = time.monotonic() - start
    assert "time limit" in error.detail and 0.9 < elapsed < 2.5, (elapsed, error.detail)


@pytest.mark.parametrize("path, size", [("/media/big", 2 * MB),  # refused from its Content-Length, unread
                                        ("/media/no-length", MB + 1), ("/media/endless", MB + 1)])
def test_an_oversized_or_endless_body_stops_at_the_size_limit(store: Server, path: str, size: int) -> None:
    tracemalloc.start()
    start = time.monotonic()
    try:
        error = refused({"ref": store.url + path}, f"{store.url}/media/", "media_too_large", max_bytes=MB,
                        setting="MMSTREAM_PLUGIN_VIDEO_MAX_BYTES")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 3 and peak < 3 * MB, peak
    assert f"{size} bytes, over the limit of 1048576" in error.detail
    assert "MMSTREAM_PLUGIN_VIDEO_MAX_BYTES" in error.detail


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl makes the test certificate")
def test_https_stores_verify_the_certificate(serve: Callable[[], Server], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    server = serve()
    server.routes["/media/clip.bin"] = lambda h: h.body(CLIP)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda *a: None  # type: ignore[method-assign]  # the refused handshake
    url = server.url.replace("http://", "https://")
    # a certificate no CA vouches for: refused
    error = refused({"ref": f"{url}/media/clip.bin"}, f"{url}/media/", "media_fetch_failed")
    assert "SSLCertVerificationError" in error.detail and server.seen == []
    # the same store, its CA trusted: read over TLS, the certificate checked against the listed address
    monkeypatch.setattr(media_http, "_tls", lambda: ssl.create_default_context(cafile=str(cert)))
    assert read({"ref": f"{url}/media/clip.bin"}, f"{url}/media/") == CLIP
    assert server.seen == ["/media/clip.bin"]


def test_a_closed_port_is_a_fetch_failure(store: Server) -> None:
    with Server() as idle:  # bound, never listening
        url = idle.url
    error = refused({"ref": f"{url}/media/a.bin"}, f"{url}/media/", "media_fetch_failed")
    assert "ConnectionRefusedError" in error.detail and "reachable" in error.detail


# --- local stores ---------------------------------------------------------------------------------------------

@pytest.fixture
def local(tmp_path: Path) -> Path:
    """tmp/store (clip.bin, empty.bin, big.bin, sub/, escape -> ../outside/secret, out -> ../outside), tmp/outside."""
    root, outside = tmp_path / "store", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_bytes(SECRET)
    (root / "clip.bin").write_bytes(CLIP)
    (root / "sub" / "deep.bin").write_bytes(CLIP[:10])
    (root / "empty.bin").write_bytes(b"")
    (root / "big.bin").write_bytes(b"b" * (MB + 1))
    (root / "escape").symlink_to(outside / "secret")
    (root / "out").symlink_to(outside)
    (root / "inner").symlink_to(root / "clip.bin")
    os.mkfifo(root / "pipe")
    return root


def test_a_local_store_serves_its_files(local: Path) -> None:
    for stores in (str(local), f"file://{local}/", f"{local}/,http://127.0.0.1:1/m/"):
        assert read({"ref": str(local / "clip.bin")}, stores) == CLIP
        assert read({"ref": f"file://{local}/sub/deep.bin"}, stores) == CLIP[:10]
        assert read({"ref": str(local / "inner")}, stores) == CLIP  # a symlink that stays inside
        assert read({"ref": f"file://{local}/sub/%2e%2e/clip.bin"}, stores) == CLIP


@pytest.mark.parametrize("ref", ["{root}/escape", "{root}/out/secret", "{root}/../outside/secret",
                                 "{root}/sub/../../outside/secret", "file://{root}/%2e%2e/outside/secret",
                                 "file://{root}/out%2fsecret", "file://{root}/../outside/secret", "{root}",
                                 "{root}/clip.bin\0", "file://otherhost{root}/clip.bin"])
def test_nothing_leaves_a_local_store(local: Path, ref: str) -> None:
    error = refused({"ref": ref.format(root=local)}, str(local), "unsupported_media_source")
    assert "MMSTREAM_MEDIA_STORES" in error.detail or "file:///dir/name" in error.detail  # the fix


def test_local_failures_are_dead_letter_reasons(local: Path) -> None:
    stores = str(local)
    # an encoded dot-dot in a plain path is a name, not a step up: no such file, and no secret
    assert "no such file" in refused({"ref": f"{local}/%2e%2e/outside/secret"}, stores, "media_fetch_failed").detail
    assert "no such file" in refused({"ref": f"{local}/missing.bin"}, stores, "media_fetch_failed").detail
    start = time.monotonic()
    assert "not a regular file" in refused({"ref": f"{local}/pipe"}, stores, "media_fetch_failed").detail
    assert "not a regular file" in refused({"ref": f"{local}/sub"}, stores, "media_fetch_failed").detail
    assert time.monotonic() - start < 1  # a pipe with no writer does not block
    refused({"ref": f"{local}/empty.bin"}, stores, "empty_media")
    assert "1048577 bytes" in refused({"ref": f"{local}/big.bin"}, stores, "media_too_large", max_bytes=MB).detail
