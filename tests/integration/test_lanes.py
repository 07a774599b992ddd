"""Lanes (docs/architecture.md): a post with a media-lane modality is routed to the media topic and
read by the media lane; a slow clip never holds up a text post, and kill -9 of either kind of worker
loses nothing.

The routing decision and the roles are pure logic (unit); the rest runs real workers on the embedded
broker with real Whisper on espeak-ng speech."""
from __future__ import annotations

import base64
import json
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from mmstream.errors import ConfigError
from mmstream.kafka.broker import free_port
from mmstream.lanes import ROLES, parse_role
from mmstream.lanes.routing import ROUTE, MediaRouter, source_of
from mmstream.plugin.extractors import media_modalities
from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.settings import Settings
from support import WorkerProcess, produce, read_all, wait_for, wait_until
from support import without_mined

CREATED = "2026-12-06T20:00:00Z"
#: the cheaper Whisper, and room for a clip on a loaded CI machine: these tests are of delivery, not of speech
AUDIO = {"MMSTREAM_PLUGIN_AUDIO_MODEL": "tiny.en", "MMSTREAM_PLUGIN_AUDIO_TRANSCRIBE_SECONDS": "600"}
SPEECH = ("I flew with American Air yesterday and the flight was delayed for three hours, "
          "nobody at the gate told us anything and my bag never arrived. ")


def test_a_post_with_a_media_key_and_a_usable_id_is_routed_whole():
    router = MediaRouter({"audio", "videos"}, max_bytes=1000)
    post = {"id": "p1", "created_at": CREATED, "text": "hi", "audio": [{"b64": "AAAA"}]}
    assert router.route(json.dumps(post).encode()) == "p1"
    assert router.route(json.dumps({"id": "p2", "videos": "not even a list"}).encode()) == "p2"  # read there
    assert router.route(b'{"id": "p3", "vid\\u0065os": []}') == "p3"  # a key spelt with escapes
    # stays in the text lane: no media key, no usable id, not JSON, not an object, too big
    for raw in (json.dumps({"id": "t", "text": "videos and audio"}).encode(), b'{"audio": []}',
                b'{"id": 5, "audio": []}', b'{"id": "x", "audio": [', b'["audio"]',
                json.dumps({"id": "big", "audio": [{"b64": "A" * 2000}]}).encode()):
        assert router.route(raw) is None, raw
    assert MediaRouter((), 1000).route(json.dumps(post).encode()) is None  # no media plugin: nothing routed
    events = [SimpleNamespace(message=SimpleNamespace(value=json.dumps(p).encode(), timestamp=12.5, topic="x.posts",
                                                     partition=2, offset=7 + i))
              for i, p in enumerate((post, {"id": "t1", "text": "x"}))]
    routed, kept = MediaRouter({"audio"}, 10_000).split(events)
    assert kept is None and routed.kind == ROUTE and routed.key == "p1" and routed.timestamp == 12.5
    assert routed.data == events[0].message.value  # the record as it came
    # the media lane's dead letters name the post's own record, as the text lane's do
    assert source_of(SimpleNamespace(headers=routed.headers)) == ("x.posts", 2, 7)
    assert source_of(SimpleNamespace(headers=[("mmstream-source", b"junk")])) is None


def test_the_audio_and_video_plugins_are_media_lane_and_roles_are_checked():
    settings = Settings.load()
    extractors = register_extractors(get_plugin_manager(settings), settings)  # built, not loaded
    routed = media_modalities(extractors)
    assert {"audio", "videos"} <= routed and not routed & {"text", "images", "image_text"}, routed
    assert {"images", "audio", "videos"} <= media_modalities(extractors, {"image"})  # MMSTREAM_MEDIA_PLUGINS=image
    assert extractors["text"].lane == "text" and extractors["images"].lane == "text"
    assert parse_role(None) == "all" and parse_role("Media") == "media" and ROLES["all"] == {"text", "media"}
    with pytest.raises(ConfigError, match="--lanes 'both' is not one of all, text, media, inline"):
        parse_role("both")

    class Odd(type(extractors["text"])):
        lane = "gpu"
    with pytest.raises(ConfigError, match="lane='gpu'"):
        media_modalities({"odd": Odd.__new__(Odd)})


def test_a_text_role_worker_opens_the_image_plugin_at_its_first_image_with_the_same_results(mmstream_pipeline,
                                                                                           tmp_path):
    """--lanes text opens a text-lane plugin other than the text reader at its first post (memory: the image
    plugin's ~116 MB stay out of a text worker whose stream has no images), with results identical to a
    worker that opened everything at start-up (mmstream_pipeline: the default role)."""
    from mmstream.pipeline.build import build_pipeline
    from paths import TEST_DATA

    text_role = build_pipeline(Settings.load(lanes="text", data_dir=str(tmp_path / "data")))
    try:
        image, text = text_role.extractors["images"], text_role.extractors["text"]
        assert image.encoder is None and image.ocr is None and not image.opened()  # nothing of it in memory
        assert text.lane == "text" and text.reads_text and not hasattr(text, "opened")  # opened at start-up
        posts = [{"id": "t", "created_at": CREATED, "text": "the crew was lovely, thank you Acme Air"},
                 {"id": "i", "created_at": CREATED, "text": "my coffee this morning",
                  "images": [{"b64": base64.b64encode((TEST_DATA / "coffee.jpg").read_bytes()).decode()}]}]
        raws = [(json.dumps(p).encode(), None) for p in posts]
        # mined topics left out: a mined topic is the miner's state when the post came (the session pipeline's
        # has seen the other tests' posts); every other field is the post's alone
        first = [without_mined(o.record) for o in text_role.process(raws[:1])]
        assert not image.opened() and image.encoder is None  # a text post does not open it
        both = [without_mined(o.record) for o in text_role.process(raws)]
        assert image.opened() and image.encoder is not None
        expected = [without_mined(o.record) for o in mmstream_pipeline.process(raws)]
        assert first == expected[:1] and both == expected, (both, expected)
        assert both[1]["modalities"]["images"]["count"] == 1, both[1]
    finally:
        text_role.close()


# -- real workers ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spoken_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """~10 s of espeak-ng speech as WAV, base64."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing (apt-get install espeak-ng)")
    out = tmp_path_factory.mktemp("speech") / "clip.wav"
    subprocess.run(["espeak-ng", "-w", str(out), SPEECH], check=True)
    return base64.b64encode(out.read_bytes()).decode()


def metric(port: int, name: str, labels: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    series = name + ("{" + labels + "}" if labels else "")
    found = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def start(settings: Settings, tmp_path: Path, name: str, lanes: str) -> tuple[WorkerProcess, int]:
    port = free_port()
    env = {"MMSTREAM_LANES": lanes, **AUDIO}
    return WorkerProcess(settings.replace(web_port=port), tmp_path / f"{name}.log", env), port


def test_kill_9_of_either_kind_of_worker_loses_nothing_and_a_clip_never_holds_up_a_tweet(settings, tmp_path,
                                                                                          spoken_clip):
    """A text worker and a media worker; the media worker is killed with kill -9 mid-clip, then the text
    worker; one all-lanes worker takes both over: every post gets its outcome, copies are identical.
    Then, on that worker, text posts produced right after a clip come out before the clip's result."""
    clips = [{"id": f"clip{i}", "created_at": CREATED, "text": "listen", "audio": [{"b64": spoken_clip}]}
             for i in range(2)]
    texts = [{"id": f"t{i}", "created_at": CREATED, "text": f"post {i}: the crew was great"} for i in range(8)]
    ids = {p["id"] for p in clips + texts}
    text_worker, text_port = start(settings, tmp_path, "text", "text")
    media_worker, media_port = start(settings, tmp_path, "media", "media")
    workers = [text_worker, media_worker]
    try:
        wait_until(lambda: metric(media_port, "mmstream_ready", "") == 1.0, 120, "the media worker ready")
        assert json.loads(urllib.request.urlopen(f"http://127.0.0.1:{media_port}/ready").read())[
            "checks"]["assignment"]["media_partitions"]
        produce(settings, clips + texts)
        wait_until(lambda: metric(media_port, "mmstream_lane_queue_depth", 'lane="media"') == 1.0, 60,
                   "the media worker mid-clip", every=0.1)
        media_worker.proc.kill()  # SIGKILL mid-clip: nothing delivered or committed for it
        done_before = {json.loads(r.value)["id"] for r in read_all(settings, "enriched", settle=0.5)}
        assert not {c["id"] for c in clips} <= done_before, "the kill did not land mid-clip"
        assert metric(text_port, "mmstream_lane_routed_total", "") == 2.0
        text_worker.proc.kill()
        assert text_worker.stop() == -signal.SIGKILL and media_worker.stop() == -signal.SIGKILL
        takeover, _ = start(settings, tmp_path, "all", "all")
        workers.append(takeover)
        records = wait_for(settings, ["enriched", "dead-letter"], ids, 240, context=workers)
        found: dict[str, list[dict]] = {}
        for r in records:
            assert r.topic == settings.topic("enriched"), r.value[:300]
            found.setdefault(r.json()["id"], []).append(r.json())
        assert set(found) == ids
        for post_id, copies in found.items():
            assert all(without_mined(c) == without_mined(copies[0]) for c in copies), post_id
        heard = found["clip0"][0]["modalities"]["audio"]["transcript"].lower()
        assert "delayed" in heard, found["clip0"][0]

        # the same worker: a clip, then tweets on every partition, produced after it
        produce(settings, [{**clips[0], "id": "late-clip"}] + [{**t, "id": f"late-{t['id']}"} for t in texts])
        late = wait_for(settings, "enriched", {"late-clip"} | {f"late-{t['id']}" for t in texts}, 120,
                        context=workers)
        stamps = {r.json()["id"]: r.timestamp for r in late if r.json()["id"].startswith("late-")}
        assert max(v for k, v in stamps.items() if k != "late-clip") < stamps["late-clip"], stamps
        alive = takeover.alive()
    finally:
        codes = [w.stop() for w in workers]
    assert alive and codes[-1] == 0, takeover.log()


def test_sigterm_finishes_the_clip_in_flight_and_commits_it(settings, tmp_path, spoken_clip):
    """A media worker asked to stop (SIGTERM: a scale-down, a rollout) mid-clip finishes that clip within
    its shutdown bound, delivers and commits it, and exits 0: the next media worker does not transcribe it
    again. (Before, the clip was dropped uncommitted and came out only from the next worker.)"""
    from mmstream.commands.produce import produce_jsonl

    port = free_port()
    env = {"MMSTREAM_LANES": "media", "MMSTREAM_SHUTDOWN_TIMEOUT": "120", **AUDIO}
    first = WorkerProcess(settings.replace(web_port=port), tmp_path / "media1.log", env)
    workers = [first]
    try:
        wait_until(lambda: metric(port, "mmstream_ready", "") == 1.0, 180, "the media worker ready")
        post = {"id": "clip-term", "created_at": CREATED, "text": "listen", "audio": [{"b64": spoken_clip}]}
        produce_jsonl(settings, [json.dumps(post)], settings.topic("media"))  # as the text lane routes it
        wait_until(lambda: metric(port, "mmstream_lane_queue_depth", 'lane="media"') == 1.0, 120,
                   "the media worker mid-clip", every=0.1)
        first.proc.send_signal(signal.SIGTERM)
        assert not read_all(settings, "enriched", settle=0.2), "SIGTERM did not land mid-clip"
        assert first.stop(timeout=150) == 0, first.log()
        done = read_all(settings, ["enriched", "dead-letter"], settle=1.0)
        assert [r.topic for r in done] == [settings.topic("enriched")], [r.value[:300] for r in done]
        assert "delayed" in done[0].json()["modalities"]["audio"]["transcript"].lower(), done[0].json()
        again, port2 = start(settings, tmp_path, "media2", "media")
        workers.append(again)
        wait_until(lambda: metric(port2, "mmstream_ready", "") == 1.0, 180, "the second media worker ready")
        # its offset was committed: the next worker takes nothing (an uncommitted clip would be taken within
        # a poll, and finished by the SIGTERM below: a second outcome)
        # the committed offset, read on assignment, is past the clip
        wait_until(lambda: metric(port2, "mmstream_lane_lag_records", 'lane="media"') == 0.0, 30,
                   "the second media worker's lag to read 0")
        taken = []
        for _ in range(25):
            taken.append(metric(port2, "mmstream_lane_queue_depth", 'lane="media"'))
            time.sleep(0.2)
        alive = again.alive()
    finally:
        codes = [w.stop(timeout=150) for w in workers]
    assert alive and codes[-1] == 0, again.log()
    assert set(taken) == {0.0}, taken
    assert len(read_all(settings, ["enriched", "dead-letter"], settle=1.0)) == 1


@pytest.mark.realkafka
@pytest.mark.parametrize("broker_kind", ["kafka"], indirect=True)
def test_exactly_once_lanes_a_media_worker_killed_mid_clip_read_committed_sees_every_post_once(settings, tmp_path,
                                                                                             spoken_clip):
    """MMSTREAM_PROCESSING_GUARANTEE=exactly_once on Apache Kafka: the routing records are in the text lane's
    transactions, the media lane reads read_committed and commits each outcome with its offset. A media
    worker killed mid-clip and a new one: a read_committed consumer sees every post's outcome once."""
    from mmstream.kafka.admin import create_topics
    from mmstream.testing import consume

    create_topics(settings, roles=("worker",))
    eos = {"MMSTREAM_PROCESSING_GUARANTEE": "exactly_once", **AUDIO}
    posts = [{"id": f"clip{i}", "created_at": CREATED, "audio": [{"b64": spoken_clip}]} for i in range(2)]
    posts += [{"id": f"t{i}", "created_at": CREATED, "text": f"post {i}: the gate agent was rude"} for i in range(8)]
    ids = {p["id"] for p in posts}
    ports = {"text": free_port(), "media": free_port()}
    workers = {role: WorkerProcess(settings.replace(web_port=port), tmp_path / f"{role}.log",
                                   {**eos, "MMSTREAM_LANES": role}) for role, port in ports.items()}
    try:
        wait_until(lambda: metric(ports["media"], "mmstream_ready", "") == 1.0, 180, "the media worker ready")
        produce(settings, posts)
        wait_until(lambda: metric(ports["media"], "mmstream_lane_queue_depth", 'lane="media"') == 1.0, 120,
                   "the media worker mid-clip", every=0.1)
        workers["media"].proc.kill()
        assert workers["media"].stop() == -signal.SIGKILL
        workers["again"] = WorkerProcess(settings.replace(web_port=free_port()), tmp_path / "again.log",
                                         {**eos, "MMSTREAM_LANES": "media"})
        outputs = [settings.topic("enriched"), settings.topic("dead-letter")]
        consume(settings, outputs, timeout=300, isolation_level="read_committed",
                until=lambda rs: ids <= {r.json()["id"] for r in rs})
        # then everything committed by now, read again: a copy committed after the last id would be seen here
        committed = consume(settings, outputs, timeout=5, isolation_level="read_committed", until=lambda rs: False)
        alive = workers["text"].alive() and workers["again"].alive()
    finally:
        codes = {role: w.stop() for role, w in workers.items()}
    copies: dict[str, int] = {}
    for r in committed:
        assert r.topic == settings.topic("enriched"), r.value[:300]
        copies[r.json()["id"]] = copies.get(r.json()["id"], 0) + 1
    assert set(copies) == ids and all(n == 1 for n in copies.values()), copies
    assert alive and codes["text"] == 0 and codes["again"] == 0, (workers["text"].log(), workers["again"].log())
