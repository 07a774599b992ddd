"""The live feed's thumbnails (no browser, no broker): what a result's reports carry is checked before it is
kept (type, magic bytes, byte and side bounds), at most two a post, in the result's report order; the store is bounded by
count and bytes; the mention names them by an opaque same-origin URL; MMSTREAM_FEED_THUMBNAILS=0 keeps none;
the route answers the bytes with their type, and 404 for an unknown or malformed key."""
from __future__ import annotations

import asyncio
import base64
import io

from PIL import Image

from mmstream.settings import Settings
from mmstream.web import thumbs as thumbs_module
from mmstream.web.live import LiveFeed
from mmstream.web.thumbs import KEY, MAX_BYTES, ThumbStore, checked, key_of, thumbnails_of


def _jpeg(size=(96, 54), colour="red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG", quality=70)
    return buf.getvalue()


def _thumb(data: bytes | None = None, **extra) -> dict:
    data = _jpeg() if data is None else data
    return {"type": "image/jpeg", "width": 96, "height": 54, "of": 0, "b64": base64.b64encode(data).decode(), **extra}


def _result(pid: str, **reports) -> dict:
    return {"id": pid, "created_at": "2026-11-28T09:00:00Z", "brands": ["acme"], "lang": "en",
            "sentiment": {"label": "neutral", "score": 0.0}, "topics": [], "modalities": {"text": {"chars": 3}, **reports}}


def test_only_a_well_formed_small_picture_is_kept():
    assert checked(_thumb())[0:2] == ("image/jpeg", _jpeg())
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    assert checked(_thumb(png.getvalue(), type="image/png")) is not None
    bad = [
        _thumb(b"<svg onload=alert(1)>", type="image/jpeg"),  # bytes that are not what the type says
        _thumb(png.getvalue()),  # a PNG claiming to be a JPEG
        _thumb(type="image/svg+xml"), _thumb(type="text/html"), _thumb(type=None),
        _thumb(b64="not base64!"), _thumb(b64=""), _thumb(b64=123),
        _thumb(width=0), _thumb(height=10_000), _thumb(width="96"), _thumb(width=True), _thumb(height=None),
        _thumb(b"\xff\xd8\xff" + b"\0" * MAX_BYTES),  # over the byte bound
        _thumb(b"RIFF\0\0\0\0WAVE", type="image/webp"),
        "a string", None, [],
    ]
    for thumb in bad:
        assert checked(thumb) is None, thumb


def test_at_most_two_a_post_in_report_order_and_bad_reports_skipped():
    result = _result("p1", video_frames={"thumbnail": _thumb(_jpeg(colour="blue"))}, audio={"thumbnail": _thumb()},
                     images={"thumbnail": _thumb()}, broken={"thumbnail": "x"}, odd="not a report")
    found = thumbnails_of(result)
    assert [f[0] for f in found] == ["video_frames", "audio"] and found[0][2] == _jpeg(colour="blue")
    assert [f[-1] for f in found] == ["video frames", "audio"]  # no words of its own: the modality's name
    assert thumbnails_of({"modalities": "nope"}) == [] and thumbnails_of({}) == []


def test_the_store_is_bounded_by_count_and_bytes():
    store = ThumbStore(count=3, max_bytes=10_000)
    for i in range(5):
        store.put(f"k{i}", "image/jpeg", b"x" * 1000)
    assert len(store) == 3 and store.get("k0") is None and store.get("k4") == ("image/jpeg", b"x" * 1000)
    store.put("k4", "image/jpeg", b"y" * 10)  # the same key again: replaced, bytes recounted
    assert store.bytes == 2010 and store.get("k4")[1] == b"y" * 10
    store.put("big", "image/jpeg", b"z" * 9_500)
    assert store.bytes == 9_510 and store.get("big") is not None and store.get("k3") is None and len(store) == 2


def test_the_feed_names_each_thumbnail_by_an_opaque_same_origin_url():
    feed = LiveFeed(Settings())
    hostile = '../"><img src=x onerror=alert(1)>'
    feed.add_post({"id": hostile, "text": "look"})
    feed.add_result(_result(hostile, images={"count": 1, "thumbnail": _thumb(shows="image")},
                            video_frames={"thumbnail": _thumb(_jpeg((64, 128)), width=64, height=128,
                                                              shows="video keyframe")},
                            pages={"thumbnail": _thumb(), "count": 1}))  # a third: over the two a post
    feed.add_post({"id": "plain", "text": "no picture"})
    feed.add_result(_result("plain"))
    shown = {m["id"]: m for m in feed.recent()}
    assert shown["plain"]["thumbs"] == []
    first, second = shown[hostile]["thumbs"]
    assert first == {"src": f"/thumb/{key_of(hostile, 'images')}", "width": 96, "height": 54, "what": "image"}
    assert second["what"] == "video keyframe" and (second["width"], second["height"]) == (64, 128)
    for t in (first, second):
        key = t["src"].removeprefix("/thumb/")
        assert KEY.match(key) and feed.thumbs.get(key)[0] == "image/jpeg"
    assert feed.thumbs.get(key_of(hostile, "images"))[1] == _jpeg()


def test_thumbnails_off_keeps_none(monkeypatch):
    monkeypatch.setenv("MMSTREAM_FEED_THUMBNAILS", "0")
    feed = LiveFeed(Settings.load())
    feed.add_post({"id": "a", "text": "x"})
    feed.add_result(_result("a", images={"thumbnail": _thumb()}))
    assert feed.recent()[0]["thumbs"] == [] and len(feed.thumbs) == 0


class _Context:
    def __init__(self):
        self.routes = {}

    def add_route(self, path, view, *, name=None):
        self.routes[path] = view


def test_the_route_answers_the_bytes_with_their_type_or_404():
    store = ThumbStore()
    key = key_of("p", "images")
    store.put(key, "image/jpeg", _jpeg())
    context = _Context()
    thumbs_module.add_routes(context, store)
    view = context.routes["/thumb/{key}"]

    async def get(k):
        return await view(None, None, k)

    ok = asyncio.run(get(key))
    assert ok.status == 200 and ok.content_type == "image/jpeg" and ok.body == _jpeg()
    for missing in (key_of("q", "images"), "../etc/passwd", key.upper(), key + "0", ""):
        assert asyncio.run(get(missing)).status == 404, missing
