"""Thumbnails in the live feed: the small JPEGs a plugin's report carries (``modalities.<name>.thumbnail``:
the image plugin's of a post's first image and first keyframe, see ``mmstream_image.thumbnail``), kept in
a bounded store and served same-origin at ``/thumb/<key>``.

The page's CSP allows images from ``'self'`` only (no ``data:``), so a thumbnail is a URL of this worker's,
behind the token like every other path. What a result carries is checked before it is kept: a known type
whose bytes begin as that type does, at most :data:`MAX_BYTES`, sides of 1 to :data:`MAX_SIDE`; anything
else is left out (the row shows no thumbnail), never an error. At most :data:`PER_POST` a post, and the
store keeps the newest :data:`COUNT` within :data:`STORE_BYTES`: a thumbnail evicted before its row left
the page is answered 404 and the page drops the image. ``MMSTREAM_FEED_THUMBNAILS=0``: none kept.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections import OrderedDict
from typing import Any

from aiohttp import web

#: bytes of one thumbnail (after base64) and its sides, at most
MAX_BYTES = 16_384
MAX_SIDE = 256
#: thumbnails shown per post (the first image's and the first keyframe's)
PER_POST = 2
#: thumbnails kept, and their bytes in all (the newest win)
COUNT = 2000
STORE_BYTES = 8 * 1024 * 1024
#: the types kept, each with how its bytes begin
MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/webp": (b"RIFF",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
KEY = re.compile(r"^[0-9a-f]{24}$")
#: the longest alt text a thumbnail's ``shows`` gives
MAX_SHOWS = 40


def key_of(post_id: str, modality: str) -> str:
    """The URL key of one post's thumbnail of one modality: opaque, fixed length, safe in a path."""
    return hashlib.blake2b(f"{post_id}\x00{modality}".encode(), digest_size=12).hexdigest()


def _side(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SIDE else None


def checked(thumb: Any) -> tuple[str, bytes, int, int] | None:
    """``(type, bytes, width, height)`` of one report's ``thumbnail``, or None when it is not one to show."""
    if not isinstance(thumb, dict) or thumb.get("type") not in MAGIC or not isinstance(thumb.get("b64"), str):
        return None
    width, height = _side(thumb.get("width")), _side(thumb.get("height"))
    if width is None or height is None or len(thumb["b64"]) > MAX_BYTES * 4 // 3 + 4:
        return None
    try:
        data = base64.b64decode(thumb["b64"], validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data or len(data) > MAX_BYTES or not data.startswith(MAGIC[thumb["type"]]):
        return None
    if thumb["type"] == "image/webp" and data[8:12] != b"WEBP":
        return None
    return thumb["type"], data, width, height


def thumbnails_of(result: dict) -> list[tuple[str, str, bytes, int, int]]:
    """``(modality, type, bytes, width, height, shows)`` of the result's thumbnails worth showing, in the
    order of its reports (the plugins' order), at most :data:`PER_POST`; ``shows``: the thumbnail's own
    words for what it shows (the feed's alt text), else the modality's name."""
    reports = result.get("modalities")
    if not isinstance(reports, dict):
        return []
    found = []
    for name, report in reports.items():
        thumb = report.get("thumbnail") if isinstance(report, dict) else None
        good = checked(thumb)
        if good is not None:
            shows = thumb.get("shows")
            if not isinstance(shows, str) or not shows.strip() or len(shows) > MAX_SHOWS:
                shows = str(name).replace("_", " ")[:MAX_SHOWS]
            found.append((str(name), *good, shows))
            if len(found) == PER_POST:
                break
    return found


class ThumbStore:
    """The newest thumbnails by key, bounded by count and bytes (thread-safe)."""

    def __init__(self, count: int = COUNT, max_bytes: int = STORE_BYTES) -> None:
        self.count, self.max_bytes = count, max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self.bytes = 0

    def put(self, key: str, kind: str, data: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= len(old[1])
            self._items[key] = (kind, data)
            self.bytes += len(data)
            while self._items and (len(self._items) > self.count or self.bytes > self.max_bytes):
                _, (_, gone) = self._items.popitem(last=False)
                self.bytes -= len(gone)

    def get(self, key: str) -> tuple[str, bytes] | None:
        with self._lock:
            return self._items.get(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def keep(self, result: dict) -> list[dict]:
        """Keep the result's thumbnails; what the feed row shows of each: ``{"src", "width", "height",
        "what"}`` (``what``: the thumbnail's ``shows``, e.g. image or video keyframe)."""
        pid = str(result.get("id", ""))
        shown = []
        for modality, kind, data, width, height, shows in thumbnails_of(result):
            key = key_of(pid, modality)
            self.put(key, kind, data)
            shown.append({"src": f"/thumb/{key}", "width": width, "height": height,
                          "what": shows})
        return shown


def add_routes(context: Any, store: ThumbStore) -> None:
    """``/thumb/<key>``: one kept thumbnail, as its type (nosniff and the CSP come with every response);
    404 for a key not kept (evicted, or never seen)."""

    async def thumb(web_: Any, request: web.Request, key: str) -> web.Response:  # noqa: ARG001
        found = store.get(key) if KEY.match(key) else None
        if found is None:
            return web.json_response({"error": "no such thumbnail (the feed keeps the newest only)"}, status=404)
        kind, data = found
        return web.Response(body=data, content_type=kind)

    context.add_route("/thumb/{key}", thumb, name="dashboard_thumb")
