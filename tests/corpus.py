"""A corpus of every kind of bad input, mixed with good posts.

Each :class:`Case` is the exact record value to produce and what must come
back: a result (``reason`` None) or a dead letter with ``reason`` and
``stage``. Dead letters are matched to their case by payload (the raw record,
see :func:`payload_of`), so posts without an id are matched too; every raw
value is unique.

Some cases need the worker to run with :data:`WORKER_ENV` (small limits, so
the oversized records stay under Kafka's 1 MB default record size) and with
the probe plugin and model of :mod:`probe_plugin` installed.
"""
from __future__ import annotations

import base64
import io
import json
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image

from mmstream.pipeline.outcomes import PAYLOAD_KEEP_CHARS
from mmstream.render import image_to_b64, render_meme, render_scene

#: limits the corpus is built against (the worker must run with them)
MAX_PAYLOAD_BYTES = 600_000
MAX_IMAGE_BYTES = 200_000
MAX_TEXT_CHARS = 10_000  # the default
PLUGIN_TIMEOUT = 4.0  # every plugin shares it: leave OCR on a loaded machine room
#: the bound on the past (off by default): the corpus's good posts (T0, 2025) are within it until 2045,
#: the ``old-created-at`` case (1980) is not
MAX_AGE = 20 * 365 * 86400
OLD = 315532800  # 1980-01-01T00:00:00Z
WORKER_ENV = {
    "MMSTREAM_MAX_PAYLOAD_BYTES": str(MAX_PAYLOAD_BYTES),
    "MMSTREAM_PLUGIN_IMAGE_MAX_BYTES": str(MAX_IMAGE_BYTES),
    "MMSTREAM_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS),
    "MMSTREAM_PLUGIN_TIMEOUT": str(PLUGIN_TIMEOUT),
    "MMSTREAM_MAX_AGE": str(MAX_AGE),
    # faults the probe plugin plants in mmstream (tests/probe_plugin.py): a faulty enricher, a bug on one post
    "PROBE_ENRICHER": "1",
    "PROBE_BUG_ID": "bad-internal",
}
T0 = 1764320400  # 2026-11-28T09:00:00Z


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    reason: str | None = None  # None: a good post, a result must come back
    stage: str | None = None
    id: str | None = None  # the id the dead letter (or result) carries


def payload_of(raw: bytes) -> str:
    """What a dead letter's ``payload`` holds for a raw record."""
    return raw.decode("utf-8", errors="backslashreplace")[:PAYLOAD_KEEP_CHARS]


def _post(post_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": post_id, "created_at": fields.pop("created_at", T0), **fields}


def _raw(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _image_bytes(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid 1-bit PNG of ``width`` x ``height`` white-on-nothing pixels:
    megapixels that deflate to a few kilobytes."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def many_frames_gif(frames: int) -> bytes:
    """An animated 2x2 GIF of ``frames`` alternating frames (~40 bytes each)."""
    images = []
    for i in range(frames):
        img = Image.new("P", (2, 2), i % 2)
        img.putpalette([0, 0, 0, 255, 255, 255])
        images.append(img)
    return _image_bytes(images[0], "GIF", save_all=True, append_images=images[1:], duration=20, loop=0)


def good_cases() -> list[Case]:
    texts = ["I love this airline, the crew was wonderful", "Worst flight of my life, never again",
             "Flight 88 boards at gate 12", "the new phone battery lasts two days, impressive",
             "customer support hung up on me twice", "coffee at the lounge was fine"]
    cases = [Case(f"text-{i}", _raw(_post(f"good-text-{i}", text=t, lang="en", brands=["acme"])), id=f"good-text-{i}")
             for i, t in enumerate(texts)]
    meme = image_to_b64(render_meme("WORST AIRLINE EVER", seed=5, width=320), "JPEG", 85)
    cases.append(Case("meme", _raw(_post("good-meme", text="at the airport", images=[{"b64": meme}])), id="good-meme"))
    # posts are data: a path or URL in the text is only text
    cases.append(Case("path-as-text", _raw(_post("good-path", text="/etc/passwd")), id="good-path"))
    cases.append(Case("url-as-text", _raw(_post("good-url", text="file:///etc/shadow http://127.0.0.1:1/x")),
                      id="good-url"))
    cases.append(Case("epoch-float", _raw(_post("good-epoch", created_at=T0 + 0.5, text="half a second later")),
                      id="good-epoch"))
    return cases


def probe_ok(i: int) -> Case:
    """A good post for the probe plugin, to travel with the misbehaving ones."""
    return Case(f"probe-ok-{i}", _raw(_post(f"good-probe-{i}", probe=f"ok {i}", text=f"probe neighbour {i}")),
                id=f"good-probe-{i}")


def bad_cases() -> list[Case]:
    scene = render_scene(seed=2, width=160, height=120)
    jpeg, png = _image_bytes(scene, "JPEG", quality=90), _image_bytes(scene, "PNG")
    noise = Image.frombytes("RGB", (300, 300), random.Random(7).randbytes(300 * 300 * 3))
    too_big = _image_bytes(noise, "PNG")
    assert MAX_IMAGE_BYTES < len(too_big) and len(too_big) * 4 // 3 < MAX_PAYLOAD_BYTES
    tiny = _b64(_image_bytes(Image.new("RGB", (8, 8), "red"), "PNG"))

    def img(post_id: str, *entries: Any, **fields: Any) -> bytes:
        return _raw(_post(post_id, images=list(entries), **fields))

    d, v = "decode", "validate"
    return [
        # decode: the record itself
        Case("not-json", b"{this is not json", "not_json", d),
        Case("not-utf8", b"\xff\xfe\x00\x89PNG binary garbage \x81", "not_json", d),
        Case("too-deep", b"[" * 200_000 + b"]" * 200_000, "too_deep", d),
        # too large to parse: its id stays unknown
        Case("too-large", _raw(_post("bad-payload", text="x" * MAX_PAYLOAD_BYTES)), "payload_too_large", d),
        # validate: the envelope
        Case("array", b"[1, 2, 3]", "not_object", v),
        Case("string", b'"just a string"', "not_object", v),
        Case("null", b"null", "not_object", v),
        Case("no-id", _raw({"created_at": T0, "text": "who am i, no-id"}), "missing_id", v),
        Case("empty-id", _raw(_post("", text="empty id")), "missing_id", v),
        Case("blank-id", _raw(_post("   ", text="blank id")), "missing_id", v),
        Case("long-id", _raw(_post("i" * 300, text="long id")), "bad_id", v),
        Case("int-id", _raw(_post(42, text="numeric id")), "wrong_type", v),
        Case("surrogate-id", b'{"id": "bad-\\ud800", "created_at": 0, "text": "lone surrogate id"}',
             "invalid_unicode", v),
        Case("no-time", _raw({"id": "bad-no-time", "text": "x"}), "missing_created_at", v, "bad-no-time"),
        Case("bad-time", _raw(_post("bad-time", created_at="yesterday", text="x")), "bad_created_at", v, "bad-time"),
        Case("naive-time", _raw(_post("bad-naive", created_at="2026-11-28T09:00:00", text="x")), "bad_created_at", v,
             "bad-naive"),
        Case("nan-time", b'{"id": "bad-nan-time", "created_at": NaN, "text": "x"}', "bad_created_at", v,
             "bad-nan-time"),
        Case("huge-time", _raw(_post("bad-huge-time", created_at=1e300, text="x")), "bad_created_at", v,
             "bad-huge-time"),
        Case("bool-time", _raw(_post("bad-bool-time", created_at=True, text="x")), "bad_created_at", v,
             "bad-bool-time"),
        # event time against the record's Kafka timestamp (the clock without Kafka)
        Case("old-created-at", _raw(_post("bad-old", created_at=OLD, text="a post from 1980")), "old_created_at", v,
             "bad-old"),
        Case("future-created-at", _raw(_post("bad-future", created_at="2100-01-01T00:00:00+00:00", text="from 2100")),
             "future_created_at", v, "bad-future"),
        Case("text-int", _raw(_post("bad-text-int", text=42)), "wrong_type", v, "bad-text-int"),
        Case("brands-str", _raw(_post("bad-brands", text="x", brands="acme")), "wrong_type", v, "bad-brands"),
        Case("lang-int", _raw(_post("bad-lang", text="x", lang=5)), "wrong_type", v, "bad-lang"),
        Case("meta-list", _raw(_post("bad-meta", text="x", meta=[1])), "wrong_type", v, "bad-meta"),
        Case("surrogate-lang", b'{"id": "bad-sur-lang", "created_at": 0, "text": "x", "lang": "\\udc80"}',
             "invalid_unicode", v, "bad-sur-lang"),
        Case("no-modality", _raw(_post("bad-nothing")), "no_modality", v, "bad-nothing"),
        Case("null-text", _raw(_post("bad-null-text", text=None)), "no_modality", v, "bad-null-text"),
        Case("unknown-modality", _raw(_post("bad-video", video={"b64": "AAAA"})), "unknown_modality", v, "bad-video"),
        # text
        Case("empty-text", _raw(_post("bad-empty-text", text="   ")), "empty_text", v, "bad-empty-text"),
        Case("long-text", _raw(_post("bad-long-text", text="y" * (MAX_TEXT_CHARS + 1))), "text_too_long", v,
             "bad-long-text"),
        Case("surrogate-text", b'{"id": "bad-sur-text", "created_at": 0, "text": "ok \\ud83d then"}', "invalid_unicode",
             v, "bad-sur-text"),
        # images
        Case("images-dict", _raw(_post("bad-images-dict", images={"b64": tiny})), "wrong_type", v, "bad-images-dict"),
        Case("images-empty", img("bad-images-empty"), "empty_images", v, "bad-images-empty"),
        Case("too-many-images", img("bad-many-images", *[{"b64": tiny}] * 5), "too_many_images", v,
             "bad-many-images"),
        Case("image-url", img("bad-url", {"url": "http://127.0.0.1:1/cat.png"}), "unsupported_image_source", v,
             "bad-url"),
        Case("image-path", img("bad-path", {"path": "/etc/passwd"}), "unsupported_image_source", v, "bad-path"),
        Case("image-b64-path", img("bad-b64-path", {"b64": "/etc/passwd"}), "invalid_base64", v, "bad-b64-path"),
        Case("invalid-base64", img("bad-base64", {"b64": "this is *not* base64!!"}), "invalid_base64", v,
             "bad-base64"),
        Case("not-an-image", img("bad-not-image", {"b64": _b64(b"hello, these bytes are no picture")}),
             "not_an_image", v, "bad-not-image"),
        Case("bmp", img("bad-bmp", {"b64": _b64(_image_bytes(scene, "BMP"))}), "unsupported_image_format", v,
             "bad-bmp"),
        Case("truncated-jpeg", img("bad-trunc-jpeg", {"b64": _b64(jpeg[: len(jpeg) // 2])}), "truncated_image", v,
             "bad-trunc-jpeg"),
        Case("truncated-png", img("bad-trunc-png", {"b64": _b64(png[: len(png) // 2])}), "truncated_image", v,
             "bad-trunc-png"),
        Case("image-too-large", img("bad-big-image", {"b64": _b64(too_big)}), "image_too_large", v, "bad-big-image"),
        Case("bomb-64mp", img("bad-bomb-64", {"b64": _b64(png_bomb(8000, 8000))}), "decompression_bomb", v,
             "bad-bomb-64"),
        Case("bomb-400mp", img("bad-bomb-400", {"b64": _b64(png_bomb(20000, 20000))}), "decompression_bomb", v,
             "bad-bomb-400"),
        Case("frames", img("bad-frames", {"b64": _b64(many_frames_gif(3000))}), "too_many_frames", v, "bad-frames"),
        Case("good-then-bad-image", img("bad-second-image", {"b64": tiny}, {"b64": "%%%"}), "invalid_base64", v,
             "bad-second-image"),
        Case("image-file", img("bad-file", {"file": "/etc/passwd"}), "unsupported_image_source", v, "bad-file"),
        Case("image-href", img("bad-href", {"href": "http://127.0.0.1:1/a.png"}), "unsupported_image_source", v,
             "bad-href"),
        Case("image-src", img("bad-src", {"src": "file:///etc/passwd"}), "unsupported_image_source", v, "bad-src"),
        # after the model: an enricher that raises for one post, one that leaves a non-JSON value (NaN)
        Case("enricher-raises", _raw(_post("bad-enrich-raise", text="an enricher raises on this one")), "enrich_error",
             "enrich:probe-enricher", "bad-enrich-raise"),
        Case("enricher-nan", _raw(_post("bad-enrich-nan", text="an enricher leaves NaN here")), "enrich_error",
             "enrich", "bad-enrich-nan"),
        # a bug in mmstream itself (planted by the probe plugin on this id)
        Case("internal-bug", _raw(_post("bad-internal", text="mmstream trips over this one")), "internal_error",
             "internal", "bad-internal"),
    ]


def plugin_cases() -> list[Case]:
    """A third-party plugin that misbehaves, and the model failing, each next to good probe posts
    (produced back to back, they share micro-batches)."""
    return [
        probe_ok(0),
        Case("plugin-raises", _raw(_post("bad-raise", probe="raise", text="raise neighbour")), "plugin_error",
             "extract:probe", "bad-raise"),
        probe_ok(1),
        Case("plugin-hangs", _raw(_post("bad-hang", probe="hang")), "plugin_timeout", "extract:probe", "bad-hang"),
        probe_ok(2),
        Case("plugin-garbage", _raw(_post("bad-garbage", probe="garbage")), "plugin_error", "extract:probe",
             "bad-garbage"),
        Case("plugin-nan-report", _raw(_post("bad-nan-report", probe="nan")), "plugin_error", "extract:probe",
             "bad-nan-report"),
        Case("model-fails", _raw(_post("bad-model", probe="badvec", text="the model cannot read this one")),
             "model_error", "model", "bad-model"),
        probe_ok(3),
        Case("plugin-validate-bug", _raw(_post("bad-validate-bug", probe="validate-bug")), "plugin_error",
             "validate:probe", "bad-validate-bug"),
        Case("plugin-miscount", _raw(_post("bad-miscount", probe="miscount")), "plugin_error", "extract:probe",
             "bad-miscount"),
        probe_ok(4),
        Case("derived-not-text", _raw(_post("bad-derived", probe="derive-int")), "bad_text", "extract:text",
             "bad-derived"),
        probe_ok(5),
    ]


def corpus() -> list[Case]:
    """Bad cases interleaved with good ones (so micro-batches mix both), then the plugin block."""
    good, bad = good_cases(), bad_cases()
    mixed: list[Case] = []
    for i, case in enumerate(bad):
        mixed.append(case)
        if i % 4 == 3 and good:
            mixed.append(good.pop(0))
    return mixed + good + plugin_cases()
