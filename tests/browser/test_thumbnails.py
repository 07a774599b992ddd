"""Thumbnails in the dashboard's live feed, in a real headless Chromium against a real worker (image and
video plugins, the embedded broker, the token on): a post with an image and a post with a video (encoded
here with PyAV) each show a sized thumbnail (the image's, the video's keyframe) loaded under the page's
CSP, unchanged (img-src 'self': a same-origin /thumb/<key>, no data: URL, no violation reported), with
alt text; a text-only post shows none; /thumb/ needs the token and answers a JPEG with nosniff."""
from __future__ import annotations

import base64
import http.client
import os
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

from mmstream.render import image_to_b64, render_meme
from mmstream.testing import unique_settings
from browser import Browser, chromium_path
from media_samples import make_clip
from support import WorkerProcess, produce, read_outcomes

pytestmark = pytest.mark.skipif(chromium_path() is None and not os.environ.get("CI"),
                                reason="needs Debian's chromium: apt-get install -y chromium")

TOKEN = "tok-" + uuid.uuid4().hex
SHOWN = 64  # the feed draws a thumbnail at most this many CSS pixels a side (dashboard.js, THUMB)
# recorded before the page's own code runs (through the DevTools protocol, so the page's CSP still applies to it)
WATCH_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "(e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
ROW = "document.querySelector('#feed li[data-id=\"{}\"]')"
THUMBS = """(() => {{ const row = {row}; if (!row) return null;
  return [...row.querySelectorAll('img')].map(i => ({{src: i.getAttribute('src'), alt: i.alt, w: i.width, h: i.height,
    aw: i.getAttribute('width'), ah: i.getAttribute('height'), nw: i.naturalWidth, nh: i.naturalHeight,
    done: i.complete, box: [i.getBoundingClientRect().width, i.getBoundingClientRect().height]}})); }})()"""


def _wait_health(port: int, worker: WorkerProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.alive(), worker.log()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"worker did not answer /health:\n{worker.log()}")


@pytest.fixture(scope="module")
def feed(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("thumbnails")
    settings = unique_settings(tmp / "data", broker=broker.url, broker_session_timeout=6.0)
    worker = WorkerProcess(settings, tmp / "worker.log", env={"MMSTREAM_WEB_TOKEN": TOKEN})
    browser = None
    try:
        _wait_health(settings.web_port, worker)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        meme = image_to_b64(render_meme("WORST AIRLINE EVER", seed=3, width=640, background="solid"))
        clip = base64.b64encode(make_clip(seconds=2.0)).decode("ascii")
        posts = [{"id": "with-image", "created_at": now, "text": "acme air lost my bag", "images": [{"b64": meme}]},
                 {"id": "with-video", "created_at": now, "text": "acme air coffee", "videos": [{"b64": clip}]},
                 {"id": "text-only", "created_at": now, "text": "acme air was on time today"}]
        produce(settings, posts)
        results, dead = read_outcomes(settings, len(posts), timeout=240)
        assert set(results) == {p["id"] for p in posts}, (dead, worker.log())
        browser = Browser(tmp / "chromium")
        browser.send("Page.addScriptToEvaluateOnNewDocument", source=WATCH_CSP)
        yield browser, settings, results
    finally:
        if browser is not None:
            browser.close()
        worker.stop()


def _get(port: int, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def test_image_and_video_posts_show_a_sized_thumbnail_under_the_csp_and_text_only_none(feed):
    b, settings, results = feed
    image = results["with-image"]["modalities"]["images"]["thumbnail"]
    frame = results["with-video"]["modalities"]["video_frames"]["thumbnail"]
    assert "thumbnail" not in str(results["text-only"]["modalities"])
    b.goto(f"http://127.0.0.1:{settings.web_port}/?token={TOKEN}")
    b.wait_for(" && ".join(f"!!{ROW.format(pid)}" for pid in results), 30)
    shown = {}
    for pid, want, what in (("with-image", image, "image"), ("with-video", frame, "video keyframe")):
        b.eval(f"{ROW.format(pid)}.scrollIntoView()")  # lazy images load once in view
        b.wait_for(f"(() => {{ const i = {ROW.format(pid)}.querySelector('img'); return i && i.complete && i.naturalWidth > 0; }})()", 20)
        [thumb] = shown[pid] = b.eval(THUMBS.format(row=ROW.format(pid)))
        assert thumb["src"].startswith("/thumb/") and len(thumb["src"]) == len("/thumb/") + 24, thumb
        assert (thumb["nw"], thumb["nh"]) == (want["width"], want["height"]), (thumb, want)  # the worker's thumbnail
        scale = min(1, SHOWN / max(want["width"], want["height"]))
        assert (int(thumb["aw"]), int(thumb["ah"])) == (round(want["width"] * scale), round(want["height"] * scale))
        assert thumb["box"] == [thumb["w"], thumb["h"]] and max(thumb["box"]) == SHOWN, thumb  # drawn at its set size
        assert thumb["alt"] == "thumbnail: " + what
        # the same bytes the result carried, same-origin, behind the token, as a JPEG nobody may sniff
        reply = _get(settings.web_port, thumb["src"], {"Authorization": f"Bearer {TOKEN}"})
        assert reply.status == 200 and reply.body == base64.b64decode(want["b64"])
        assert reply.getheader("Content-Type") == "image/jpeg" and reply.getheader("X-Content-Type-Options") == "nosniff"
        assert "img-src 'self'" in reply.getheader("Content-Security-Policy")
        assert _get(settings.web_port, thumb["src"]).status == 401
    assert shown["with-image"][0]["src"] != shown["with-video"][0]["src"]
    assert b.eval(THUMBS.format(row=ROW.format("text-only"))) == []
    assert b.eval("document.querySelectorAll('#feed img').length") == 2
    assert b.eval("[...document.images].every(i => new URL(i.src).origin === location.origin)")
    assert b.eval("window.__csp") == []
    assert b.problems() == []


def test_a_thumbnail_the_worker_no_longer_keeps_leaves_the_row_without_one(feed):
    b, settings, _ = feed
    b.goto(f"http://127.0.0.1:{settings.web_port}/")
    b.wait_for(f"!!{ROW.format('with-image')} && !!{ROW.format('with-image')}.querySelector('img')", 30)
    # as if evicted from the bounded store: the same row's image pointed at a key never kept
    b.eval(f"{ROW.format('with-image')}.querySelector('img').src = '/thumb/' + '0'.repeat(24)")
    b.wait_for(f"!{ROW.format('with-image')}.querySelector('img, .thumbs')", 10)
    assert b.eval(f"{ROW.format('with-image')}.querySelector('.text').textContent") == "acme air lost my bag"
    assert b.eval("window.__csp") == []
