"""Media entries: how a post carries a file (a clip, a voice note) for a media plugin.

A post's ``videos`` or ``audio`` is a list of entries, each an object with exactly one key:
``{"b64": "<base64 of the file>"}`` (inline, up to the caller's byte limit) or
``{"ref": "<location>"}`` (the claim-check pattern: the file waits in a media store and the
post names it). A ``ref`` is read only from a prefix ``MMSTREAM_MEDIA_STORES`` lists: a local
directory (never left through a symlink or ``..``) or an ``http(s)://host[:port]/prefix/`` URL
(:mod:`mmstream.plugin.media_http`: size and time limits, redirects only within the stores, no
private or loopback address the stores do not name). Credentials in a URL never reach a detail.

:func:`check_media_list` is the cheap check for ``Extractor.validate``; :func:`read_media`
gives the bytes of one entry. Both raise :class:`PostError`, whose detail names the fix.
"""
from __future__ import annotations

import base64
import binascii
import os
import stat
from typing import Any
from urllib.parse import unquote, urlsplit

from mmstream.errors import ConfigError, PostError
from mmstream.plugin.media_http import fetch as fetch_http
from mmstream.plugin.media_stores import SETTING, Store, dir_store_for, parse_stores, redact
from mmstream.settings import Settings

#: the seconds one ``ref`` may take to fetch, redirects included, unless the caller passes its own
FETCH_TIMEOUT = 15.0
#: the longest ``ref`` accepted, in characters
MAX_REF_CHARS = 4096
SHAPE = '{"b64": "<base64 of the file>"} or {"ref": "<location in a media store>"}'
_SOURCE_KEYS = ("url", "uri", "path", "file", "href", "src", "data")


def check_media_list(modality: str, value: Any, max_items: int, *, setting: str = "") -> list[dict]:
    """``value`` when it is a non-empty list of at most ``max_items`` media entries, each an object
    with exactly one of ``b64``/``ref``, a string; else a PostError (``wrong_type``, ``empty_value``,
    ``too_many_items``, ``too_long``, ``empty_media``) at stage ``validate``. ``setting`` names the
    limit's setting in the detail (``MMSTREAM_PLUGIN_VIDEO_MAX_CLIPS``)."""
    if not isinstance(value, list):
        raise PostError("wrong_type", f"'{modality}' must be a list of {SHAPE} objects, got "
                        f"{type(value).__name__}; fix the producer.", "validate")
    if not value:
        raise PostError("empty_value", f"'{modality}' is an empty list; send at least one entry or leave the "
                        "key out.", "validate")
    if len(value) > max_items:
        fix = f"send fewer or raise {setting}" if setting else "send fewer"
        raise PostError("too_many_items", f"'{modality}' has {len(value)} entries, more than the limit of "
                        f"{max_items}; {fix}.", "validate")
    return [check_entry(f"{modality}[{i}]", entry) for i, entry in enumerate(value)]


def check_entry(where: str, entry: Any, stage: str = "validate") -> dict:
    """One entry's shape (see :func:`check_media_list`); ``where`` (``videos[0]``) starts the details."""
    if not isinstance(entry, dict):
        raise PostError("wrong_type", f"{where} must be an object, {SHAPE}, got {type(entry).__name__}; fix the "
                        "producer.", stage)
    keys = set(entry)
    if keys not in ({"b64"}, {"ref"}):
        named = ", ".join(repr(str(k)[:40]) for k in sorted(map(str, keys))[:5]) or "no key"
        if {"b64", "ref"} <= keys:
            why = "has both b64 and ref; send one of them"
        elif keys & set(_SOURCE_KEYS):
            why = (f"names its file with {named}; put the location under \"ref\" (a prefix listed in {SETTING}) "
                   "or embed the bytes as \"b64\"")
        else:
            why = f"has {named}; it must have exactly one key, b64 or ref"
        raise PostError("wrong_type", f"{where} {why}: {SHAPE}.", stage)
    key = "b64" if "b64" in keys else "ref"
    text = entry[key]
    if not isinstance(text, str):
        raise PostError("wrong_type", f"{where}.{key} must be a string, got {type(text).__name__}; fix the "
                        "producer.", stage)
    if key == "b64" and not text:
        raise PostError("empty_media", f"{where}.b64 is empty (0 bytes); send the whole file.", stage)
    if key == "ref" and not text.strip():
        raise PostError("empty_value", f"{where}.ref is blank; name the file's location or leave the entry out.",
                        stage)
    if key == "ref" and len(text) > MAX_REF_CHARS:
        raise PostError("too_long", f"{where}.ref has {len(text)} characters, more than {MAX_REF_CHARS}; name "
                        "the file by a shorter location.", stage)
    return entry


def read_media(entry: dict, settings: Settings, *, max_bytes: int, where: str, timeout: float = FETCH_TIMEOUT,
               setting: str = "MMSTREAM_MAX_PAYLOAD_BYTES", stage: str = "validate") -> bytes:
    """The bytes of one media entry, at most ``max_bytes`` of them (``setting`` names that limit).

    ``b64``: decoded strictly, the size checked from the text's length first. ``ref``: read from
    a prefix of ``settings.media_stores``, within ``timeout`` seconds for an HTTP(S) store.
    PostErrors at ``stage``: ``invalid_base64``, ``media_too_large``, ``empty_media``,
    ``unsupported_media_source``, ``media_fetch_failed`` (and the shape's, :func:`check_entry`).
    """
    entry = check_entry(where, entry, stage)

    def fail(reason: str, detail: str) -> PostError:
        return PostError(reason, f"{where}: {detail}", stage)

    def too_large(size: int) -> PostError:
        return fail("media_too_large", f"the file is {size} bytes, over the limit of {max_bytes}; compress or "
                    f"shorten it, or raise {setting}.")

    data = _decode(entry["b64"], max_bytes, fail, too_large) if "b64" in entry else \
        _fetch(entry["ref"], settings, max_bytes, timeout, fail, too_large)
    if not data:
        raise fail("empty_media", "the file is empty (0 bytes); send the whole file.")
    return data


def _decode(text: str, max_bytes: int, fail: Any, too_large: Any) -> bytes:
    # the size from the text length, before allocating the bytes (4 characters carry 3 bytes)
    size = len(text) // 4 * 3 - text[-2:].count("=")
    if size > max_bytes:
        raise too_large(size)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise fail("invalid_base64", "b64 is not valid base64 (standard alphabet, padded, no line breaks or "
                   "data: prefix); encode the raw file bytes with base64.") from None
    if len(data) > max_bytes:
        raise too_large(len(data))
    return data


def _fetch(ref: str, settings: Settings, max_bytes: int, timeout: float, fail: Any, too_large: Any) -> bytes:
    try:
        stores = parse_stores(settings.media_stores)
    except ConfigError as exc:
        raise fail("unsupported_media_source", f"the media stores are misconfigured: {exc}") from None
    shown = redact(ref)
    if not stores:
        raise fail("unsupported_media_source", f"ref {shown} names a file in a media store, and no store is "
                   f"configured; list its prefix in {SETTING}, or embed the bytes as b64.")
    scheme = ref.split("://", 1)[0].lower() if "://" in ref else ""
    if scheme in ("http", "https"):
        return fetch_http(ref, stores, max_bytes=max_bytes, timeout=timeout,
                          fail=lambda r, d: fail(r, f"ref {d}"), too_large=too_large)
    if scheme == "file" or (not scheme and ref.startswith("/")):
        return _read_local(ref, shown, stores, max_bytes, fail, too_large)
    raise fail("unsupported_media_source", f"ref {shown} is not an absolute path, a file:// URL or an http(s) "
               f"URL under a prefix of {SETTING}; list the store there and send a location in it.")


def _read_local(ref: str, shown: str, stores: tuple[Store, ...], max_bytes: int, fail: Any,
                too_large: Any) -> bytes:
    path = ref
    if ref[:7].lower() == "file://":
        url = urlsplit(ref)
        if url.netloc not in ("", "localhost") or url.query:
            raise fail("unsupported_media_source", f"ref {shown} names a host or a query; a local store's file is "
                       "file:///dir/name.")
        path = unquote(url.path)
    outside = fail("unsupported_media_source", f"ref {shown} is not inside a local store of {SETTING} (a symlink "
                   "or '..' leading out counts as outside); list its directory there or move the file into one.")
    if "\0" in path:
        raise outside
    real = os.path.realpath(path)
    if dir_store_for(real, stores) is None:
        raise outside
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise fail("media_fetch_failed", f"ref {shown}: no such file in the store; send the file first, then "
                   "the post.") from None
    except OSError as exc:
        raise fail("media_fetch_failed", f"ref {shown} could not be opened ({exc.strerror}); check the "
                   "file's permissions.") from None
    try:
        # what was opened, after the fact: a directory swapped for a symlink meanwhile is caught here
        opened = f"/proc/self/fd/{fd}"
        if os.path.exists(opened) and dir_store_for(os.readlink(opened), stores) is None:
            raise outside
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise fail("media_fetch_failed", f"ref {shown} is not a regular file (a directory, device or pipe); "
                       "name a file.")
        if info.st_size > max_bytes:
            raise too_large(info.st_size)
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise too_large(size)
    return b"".join(chunks)
