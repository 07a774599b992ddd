"""Audio and video posts through the whole pipeline: `mmstream score` (transcripts and captions get brands,
sentiment and language like text) and a real worker on the embedded broker fed hostile clips among good
posts (one outcome per record, the worker alive, its peak RSS bounded)."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from media_samples import CAPTION, frame, make_clip, overlap, sound_only, speak, speech_wav, timed_clip, tone
from media_samples import spoken, wav  # noqa: F401 - the fixtures
from paths import REPO

SPANISH = "Mañana vamos a la playa con mis amigos si no llueve por la tarde."


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def test_voice_notes_through_mmstream_score_get_brand_sentiment_and_language(tmp_path):
    """Voice notes alone (no text) through the CLI: the transcript gets the brand, sentiment and language
    the text path gives text; Spanish speech comes out as lang "es"."""
    notes = {
        "angry": ("Acme Air lost my luggage again. Worst airline ever, I am so angry.", "en-us+m3", 160, "acme"),
        "happy": ("I love my new Nimbus phone, the camera is wonderful and the battery is great.", "en-us+f3", 150,
                  "nimbus"),
        "spanish": (SPANISH, "es", 150, None),
    }
    brands = tmp_path / "brands.toml"
    brands.write_text('[brands.acme]\naliases = ["acme air"]\n\n[brands.nimbus]\naliases = ["nimbus"]\n')
    posts = tmp_path / "posts.jsonl"
    now = int(time.time())
    lines = [json.dumps({"id": key, "created_at": now, "audio": [b64(speak(tmp_path, text, voice, speed))]})
             for key, (text, voice, speed, _) in notes.items()]
    lines.append(json.dumps({"id": "bad", "created_at": now, "audio": [b64(b"\x89PNG\r\n\x1a\n" + bytes(64))]}))
    posts.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "MMSTREAM_BRANDS_FILE": str(brands)}
    done = subprocess.run([sys.executable, "-m", "mmstream", "score", str(posts), "-o", str(out)], env=env,
                          capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 3 and "results=3 dead_letters=1 (not_audio 1" in done.stderr, done.stderr[-3000:]
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for key, (text, _, _, brand) in notes.items():
        r = records[key]
        assert r["brands"] == ([brand] if brand else []), (r["brands"], r["modalities"]["audio"]["transcript"])
        assert overlap(text, r["modalities"]["audio"]["transcript"]) >= 0.5, r["modalities"]["audio"]
        assert r["lang_source"] == "detected" and "text" not in r["modalities"]
    assert records["angry"]["sentiment"]["label"] == "negative"
    assert records["happy"]["sentiment"]["label"] == "positive"
    assert records["angry"]["lang"] == "en" and records["spanish"]["lang"] == "es"
    assert records["spanish"]["modalities"]["audio"]["language"] == "es"
    assert records["angry"]["modalities"]["audio_text"]["lang"] == "en"
    assert records["bad"]["reason"] == "not_audio" and records["bad"]["stage"] == "validate"


def test_a_brand_named_only_in_the_caption_is_matched_through_mmstream_score(tmp_path, spoken, wav):
    """Videos go through the real pipeline (three extraction rounds: videos -> video_frames -> video_text and
    the frames' images feature; videos -> audio -> audio_text), one outcome per post, among text, a voice
    note and a bad clip, all in one micro-batch."""
    brands = tmp_path / "brands.toml"
    brands.write_text('[brands.acme]\naliases = ["acme air"]\n')
    photo = io.BytesIO()
    frame(3, 320, 240, None).save(photo, "JPEG")
    png = io.BytesIO()
    frame(0, 64, 64, None).save(png, "PNG")
    now = int(time.time())
    caption = make_clip(caption="ACME AIR LOST MY BAG", seconds=3.0)
    posts = [{"id": "caption-only", "videos": [b64(caption)]},
             {"id": "with-photo", "videos": [b64(caption)], "images": [b64(photo.getvalue())]},
             {"id": "image-as-video", "videos": [b64(png.getvalue())]},
             {"id": "voice-note", "audio": [b64(wav)]},  # the audio plugin's own key, in the same round as videos
             {"id": "spoken", "videos": [b64(spoken)]},
             # a voice note of its own beside a video with sound: both heard, neither lost
             {"id": "both", "audio": [b64(speech_wav("The flight to Denver was cancelled again", tmp_path))],
              "videos": [b64(spoken)]},
             # no text, no caption: its lang is the transcript's (Whisper's id and the text plugin's agree)
             {"id": "spanish", "videos": [b64(make_clip(caption=None, seconds=3.0, wav=speech_wav(
                 "El café estaba frío y el camarero fue muy antipático.", tmp_path, "es")))]},
             {"id": "text", "text": "Acme Air lost my bag"}]
    source = tmp_path / "posts.jsonl"
    source.write_text("".join(json.dumps({**p, "created_at": now}) + "\n" for p in posts))
    env = {**os.environ, "MMSTREAM_BRANDS_FILE": str(brands)}
    done = subprocess.run([str(Path(sys.executable).with_name("mmstream")), "score", str(source)], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 3 and "results=7 dead_letters=1 (not_a_video 1" in done.stderr, done.stderr[-3000:]
    out = {r["id"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert list(out) == [p["id"] for p in posts]
    heard = out["caption-only"]
    assert heard["brands"] == ["acme"] and out["text"]["brands"] == ["acme"]
    assert (heard["lang"], heard["lang_source"]) == ("en", "detected") and heard["sentiment"] is not None
    modalities = heard["modalities"]
    assert modalities["video_frames"]["ocr_text"] == "ACME AIR LOST MY BAG" and modalities["video_text"]["lang"] == "en"
    assert modalities["images"] == {"source": "video_frames", "count": 6}  # no images of its own
    own = out["with-photo"]["modalities"]["images"]
    assert own["count"] == 1 and own["sizes"] == [[320, 240]]  # its own image's features, not the frames'
    assert out["with-photo"]["brands"] == ["acme"]
    heard = out["spoken"]["modalities"]
    assert heard["videos"]["audio_from"] == [0] and "coffee" in heard["video_audio"]["transcript"].lower()
    assert heard["video_audio"]["clips"][0]["container"] == "matroska,webm"
    assert heard["video_audio_text"]["lang"] == "en" and "audio" not in heard and "audio_text" not in heard
    assert heard["video_text"]["chars"] == len(CAPTION)
    assert "coffee" in out["voice-note"]["modalities"]["audio"]["transcript"].lower()
    spanish = out["spanish"]
    assert (spanish["lang"], spanish["lang_source"]) == ("es", "detected"), spanish["modalities"]["video_audio"]
    assert spanish["modalities"]["video_audio"]["language"] == "es" and "video_text" not in spanish["modalities"]
    assert "caf" in spanish["modalities"]["video_audio"]["transcript"].lower()
    both = out["both"]["modalities"]
    assert "denver" in both["audio"]["transcript"].lower() and "coffee" not in both["audio"]["transcript"].lower()
    assert "coffee" in both["video_audio"]["transcript"].lower() and both["videos"]["audio_from"] == [0]
    assert both["audio_text"]["chars"] == len(both["audio"]["transcript"])
    assert both["video_audio_text"]["chars"] == len(both["video_audio"]["transcript"])
    bad = out["image-as-video"]
    assert (bad["reason"], bad["stage"]) == ("not_a_video", "validate") and "'images'" in bad["detail"]


def _peak_rss_mb(pid: int) -> float:
    return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024


def test_hostile_media_through_the_broker_among_good_posts(settings, tmp_path, spoken):
    """A real worker on the embedded broker: good posts first (its peak RSS with every model used), then
    hostile clips among more good posts. One outcome per record, the worker alive, its peak RSS bounded."""
    from mmstream.kafka.admin import create_topics
    from support import WorkerProcess, produce, read_outcomes

    now = int(time.time())
    tiny = make_clip(caption=None, seconds=0.5, size=(160, 120))
    png = io.BytesIO()
    frame(0, 64, 64, None).save(png, "PNG")
    rng = np.random.default_rng(3)
    mangled = bytearray(make_clip(caption=None, seconds=1.0, size=(320, 240)))
    for k in rng.integers(200, len(mangled), 40):
        mangled[k] = int(rng.integers(256))
    hostile = {"eight-k": ([timed_clip([0.0], (7680, 4320))], "resolution_too_large"),
               "two-hours": ([timed_clip([0.0, 3600.0, 7199.0], (320, 240), gop=1)], "video_too_long"),
               "forty-clips": ([tiny] * 40, "too_many_items"),
               "truncated": ([tiny[:len(tiny) // 2]], "corrupt_video"),
               "image": ([png.getvalue()], "not_a_video"),
               "sound-only": ([sound_only(tone())], "audio_sent_as_video"),
               "empty": ([b""], "empty_media"),
               "all-keyframes": ([make_clip(caption=None, seconds=10.0, fps=24, gop=1, size=(320, 240))], None),
               "mangled": ([bytes(mangled)], "any")}
    first = [{"id": "caption", "videos": [b64(make_clip(seconds=2.0))]}, {"id": "spoken", "videos": [b64(spoken)]},
             {"id": "text-1", "text": "Brewly coffee is great"}]
    then = [{"id": name, "videos": [b64(c) for c in clips]} for name, (clips, _) in hostile.items()] + \
        [{"id": f"text-{i}", "text": f"still reading posts {i}"} for i in range(2, 5)] + \
        [{"id": "caption-2", "videos": [b64(make_clip(seconds=1.0))]}]
    create_topics(settings, roles=("worker",))
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    try:
        produce(settings, [{**p, "created_at": now} for p in first])
        read_outcomes(settings, expected=len(first), timeout=180, context=worker)
        warm = _peak_rss_mb(worker.proc.pid)
        produce(settings, [{**p, "created_at": now} for p in then])
        results, dead = read_outcomes(settings, expected=len(first) + len(then), timeout=180, context=worker)
        assert worker.alive(), worker.log()
        peak = _peak_rss_mb(worker.proc.pid)
    finally:
        code = worker.stop()
    assert code == 0, worker.log()
    by_id = {d["id"]: d for d in dead}
    assert not set(by_id) & set(results) and set(by_id) | set(results) == {p["id"] for p in first + then}
    for name, (_, reason) in hostile.items():
        if reason is None:
            assert name in results, by_id.get(name)
        elif reason != "any":
            assert by_id[name]["reason"] == reason, by_id.get(name, results.get(name))
    assert {"caption", "spoken", "caption-2", "text-4"} <= set(results)
    print(f"worker peak RSS: {warm:.0f} MB after the good posts, {peak:.0f} MB after the hostile ones")
    assert peak - warm < 150, (warm, peak)
