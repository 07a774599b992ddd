"""The checkpoint file: what every saved analytics state is wrapped in.

One line naming the kind of file (``mmstream-analytics-checkpoint``, ``mmstream-duplicates-checkpoint``),
one line of JSON (the header: ``format``, the state's own fields such as a settings fingerprint and
an offset, and the body's ``sha256`` and length in ``bytes``), then the body: the state as tagged
JSON (:mod:`mmstream.analytics.state.codec`), zlib-compressed. The checksum is checked before
anything of the body is read, so a torn or altered file is refused with :class:`CheckpointError`,
never half-read.
"""
from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

from mmstream.analytics.state.codec import StateFormatError


class CheckpointError(StateFormatError):
    """A checkpoint file cannot be used; the message completes "checkpoint <path> ..." and names the fix
    when there is one."""


def pack(magic: bytes, header: dict, state: bytes) -> bytes:
    """The file for ``state`` (the codec's bytes): magic line, header (checksum added), compressed body."""
    body = zlib.compress(state, 1)
    header = {**header, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
    return magic + json.dumps(header).encode() + b"\n" + body


def unpack(data: bytes, magic: bytes, what: str) -> tuple[dict, bytes]:
    """(header, the codec's bytes) of a file made by :func:`pack` with ``magic``; :class:`CheckpointError`
    when it is another kind of file (``what``: the kind, for the message), its header is unreadable or
    its checksum does not match."""
    if not data.startswith(magic):
        raise CheckpointError(f"is not {what} (an old pickled one, or another file)")
    line, _, body = data[len(magic):].partition(b"\n")
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise CheckpointError("has a damaged header")
    if header.get("bytes") != len(body) or header.get("sha256") != hashlib.sha256(body).hexdigest():
        raise CheckpointError("is damaged (its checksum does not match)")
    try:
        return header, zlib.decompress(body)
    except zlib.error as exc:
        raise CheckpointError(f"cannot be read ({exc})") from None


def write_aside(target: Path, data: bytes, sync: bool = True) -> None:
    """Write ``data`` next to ``target``, then rename it into place (a reader sees the old file or the new
    one, never a part); workers on one host may share the folder, hence the process id in the name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = target.with_suffix(f".{os.getpid()}.tmp")
    with open(aside, "wb") as f:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(aside, target)
