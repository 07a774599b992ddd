"""The video plugin with real clips made here with PyAV (H.264 MP4, VP9 and VP8 WebM, HEVC MKV and MOV,
AV1 MP4), captions burned into their frames with PIL and speech from espeak-ng muxed as AAC; loaded
through the plugin manager with the real image plugin (OCR, faces, photo features) behind it."""
from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from mmstream.errors import ConfigError
from mmstream.plugin import Extraction, PostError
from mmstream.plugin.manager import get_plugin_manager, register_extractors
from mmstream.settings import Settings

from media_samples import CAPTION, frame, make_clip, sound_only, timed_clip, tone
from media_samples import spoken, wav  # noqa: F401 - the fixtures


# -- making media -------------------------------------------------------------------------------------------


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def settings(**limits) -> Settings:
    return Settings.load(plugin_options={"video": {k: str(v) for k, v in limits.items()}})


# -- fixtures -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plugins():
    extractors = register_extractors(get_plugin_manager(), Settings())
    extractors["video_frames"].load()
    return extractors


@pytest.fixture(scope="module")
def video(plugins):
    return plugins["videos"]


def read(video, *clips: bytes, extractor=None) -> Extraction:
    extractor = extractor or video
    [result] = extractor.extract("videos", [extractor.validate("videos", [b64(c) for c in clips])])
    assert isinstance(result, Extraction), result
    return result


def rejects(video, value, reason: str, *, stage: str = "validate", setting: str | None = None, **limits) -> PostError:
    """The PostError ``value`` gets, validated (and, past validate, extracted) under ``limits``."""
    extractor = type(video)(settings(**limits)) if limits else video
    with pytest.raises(PostError) as caught:
        [result] = extractor.extract("videos", [extractor.validate("videos", value)])
        raise result if isinstance(result, Exception) else AssertionError(f"accepted: {result.report}")
    err = caught.value
    assert (err.reason, err.stage) == (reason, stage), err
    assert err.detail.endswith(".") and len(err.detail) > 30, err.detail
    if setting:
        assert f"MMSTREAM_PLUGIN_VIDEO_{setting.upper()}" in err.detail, err.detail
    return err


# -- containers and codecs ----------------------------------------------------------------------------------

FORMATS = [("mp4", "libx264", "mp4", "h264"), ("webm", "libvpx-vp9", "webm", "vp9"),
           ("webm", "libvpx", "webm", "vp8"), ("matroska", "libx265", "mkv", "hevc"),
           ("mov", "libx265", "mov", "hevc"), ("mp4", "libsvtav1", "mp4", "av1")]


@pytest.mark.parametrize("fmt,codec,container,name", FORMATS, ids=[f"{f[3]}-{f[2]}" for f in FORMATS])
def test_each_container_and_codec_gives_keyframes_spread_over_the_clip(video, fmt, codec, container, name):
    if codec not in av.codecs_available:
        pytest.skip(f"this av build has no {codec} encoder")
    result = read(video, make_clip(fmt, codec, seconds=4.0, gop=6, caption=None))
    [clip] = result.report["clips"]
    assert (clip["container"], clip["video"]["codec"], clip["video"]["width"], clip["video"]["height"]) == \
        (container, name, 640, 360)
    assert clip["video"]["fps"] == 12 and clip["audio"] is None and clip["streams"] == 1
    assert clip["frames"] == 48 and clip["keyframes"] >= 8 and abs(clip["duration"] - 4.0) < 0.2
    used = clip["keyframes_used"]
    assert len(used) == 8 and used == sorted(used) and used[0] == 0.0 and used[-1] >= 3.0  # first to last
    frames = result.derived["video_frames"]
    assert len(frames) == 8 and all(isinstance(f, Image.Image) and f.size == (640, 360) for f in frames)
    assert result.features is None and "audio" not in result.derived  # silent: no sound handed on


def test_registered_through_the_entry_point_with_the_image_plugin_behind_it(plugins):
    video = plugins["videos"]
    assert (video.name, video.modalities, video.dims) == ("video", ("videos",), {})
    image = plugins["video_frames"]
    assert image is plugins["images"] and "video_text" in image.text_views
    assert video.timeout == video.limits.decode_seconds * video.limits.max_clips + 5.0


# -- the image path: captions, OCR de-duplicated, photo features ----------------------------------------------

def test_burned_in_caption_is_read_once_as_video_text(video, plugins):
    result = read(video, make_clip(seconds=3.0))
    frames = result.derived["video_frames"]
    assert len(frames) == 6  # a keyframe every 0.5 s over 3 s, all under the cap of 8
    [seen] = plugins["video_frames"].extract("video_frames", [frames])
    assert isinstance(seen, Extraction) and seen.features is None
    assert seen.report["count"] == 6 and all(n >= 1 for n in seen.report["text_regions"])
    assert seen.derived["video_text"] == seen.report["ocr_text"]
    assert seen.derived["video_text"].split() == CAPTION.split()  # six frames of the caption: once
    photo = seen.derived["images"]  # the frames' photo features, for a post without images of its own
    [pooled] = plugins["images"].extract("images", [photo])
    assert pooled.features.shape == (1280,) and abs(float(np.linalg.norm(pooled.features)) - 1) < 1e-4
    assert pooled.report == {"source": "video_frames", "count": 6}


def test_a_portrait_clip_stored_on_its_side_is_turned_upright(video, plugins):
    """Phones store portrait video sideways with a display matrix; the keyframes are turned as it says."""
    upright = [frame(i, 360, 640, "TALL") for i in range(6)]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=12)
        vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
        vs.set_display_rotation(90)  # show it turned 90 degrees counterclockwise
        packets = [p for img in upright for p in vs.encode(av.VideoFrame.from_image(img.rotate(-90, expand=True)))]
        for packet in packets + list(vs.encode()):
            out.mux(packet)
    result = read(video, buf.getvalue())
    assert result.report["clips"][0]["video"]["width"] == 640  # as stored
    frames = result.derived["video_frames"]
    assert frames[0].size == (360, 640)
    [seen] = plugins["video_frames"].extract("video_frames", [frames[:1]])
    assert seen.report["ocr_text"] == "TALL"


def test_posted_video_frames_are_refused(plugins):
    with pytest.raises(PostError) as caught:
        plugins["video_frames"].validate("video_frames", ["x"])
    assert caught.value.reason == "unknown_modality" and "'videos'" in caught.value.detail


def test_caption_lines_repeated_with_ocr_slips_count_once():
    from mmstream_image.frames import unique_lines

    texts = ["WORST FLIGHT EVER\nacme air", "WORST FLIGHT EVER.\nAcme  Air", "W0RST FLIGHT EVER", "new line here"]
    assert unique_lines(texts) == "WORST FLIGHT EVER\nacme air\nnew line here"


# -- sound: handed to the audio path ------------------------------------------------------------------------------

def test_a_clip_with_speech_hands_its_sound_track_to_the_audio_path(video, spoken, wav):
    result = read(video, make_clip(caption=None), spoken)
    [track] = result.derived["video_audio"]  # not "audio": a voice note of the post's own keeps its key
    assert result.report["audio_from"] == [1] and len(track) < len(spoken) / 4  # the sound, copied; no video
    with av.open(io.BytesIO(track)) as sound, av.open(io.BytesIO(wav)) as said:
        assert sound.format.name == "matroska,webm" and [s.type for s in sound.streams] == ["audio"]
        heard = sum(f.samples for f in sound.decode(audio=0)) / 22050
        assert abs(heard - said.duration / av.time_base) < 0.1  # all the speech: the stream copied whole
    [silent, talking] = result.report["clips"]
    assert silent["audio"] is None and talking["streams"] == 2
    assert talking["audio"] == {"codec": "aac", "sample_rate": 22050, "channels": 1}
    assert result.report["frames_handed_on"] == 4 + 4  # post_frames (8) shared by the two clips
    assert [len(c["keyframes_used"]) for c in result.report["clips"]] == [4, 4]


def test_sound_only_is_refused_naming_the_audio_key(video, wav):
    err = rejects(video, [b64(sound_only(wav))], "audio_sent_as_video")
    assert "'audio'" in err.detail
    err = rejects(video, [b64(wav)], "audio_sent_as_video")
    assert "WAV" in err.detail and "'audio'" in err.detail


# -- bad input: every reason ---------------------------------------------------------------------------------------

def test_entries_must_be_a_list_of_media_objects(video):
    rejects(video, "AAAA", "wrong_type")
    rejects(video, [], "empty_value")
    rejects(video, [{"b64": "AAAA", "ref": "x"}], "wrong_type")
    rejects(video, [{"b64": "not base64!"}], "invalid_base64")
    rejects(video, [{"b64": ""}], "empty_media")
    rejects(video, [{"ref": "/etc/passwd"}], "unsupported_media_source", stage="extract:video")  # fetched there


def test_a_clip_by_reference_from_a_media_store(tmp_path):
    from mmstream_video.extractor import VideoExtractor

    (tmp_path / "clip.webm").write_bytes(make_clip("webm", "libvpx-vp9", caption=None, seconds=1.0))
    video = VideoExtractor(Settings.load(media_stores=str(tmp_path)))
    [result] = video.extract("videos", [video.validate("videos", [{"ref": str(tmp_path / "clip.webm")}])])
    assert result.report["clips"][0]["container"] == "webm" and len(result.derived["video_frames"]) == 2
    png = io.BytesIO()
    frame(0, 64, 64, None).save(png, "PNG")
    (tmp_path / "still.png").write_bytes(png.getvalue())
    value = video.validate("videos", [{"ref": str(tmp_path / "still.png")}])  # not fetched yet
    [refused] = video.extract("videos", [value])
    assert (refused.reason, refused.stage) == ("not_a_video", "extract:video")


def test_an_image_or_unknown_file_sent_as_video(video):
    png = io.BytesIO()
    frame(0, 64, 64, None).save(png, "PNG")
    assert "'images'" in rejects(video, [b64(png.getvalue())], "not_a_video").detail
    rejects(video, [b64(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(200))], "unsupported_container")
    rejects(video, [b64(b"hello, this is not a video at all" * 4)], "unsupported_container")


def test_unsupported_codec(video):
    rejects(video, [b64(make_clip("mp4", "mpeg4", caption=None, seconds=0.5))], "unsupported_codec")


def test_truncated_and_corrupt_files(video):
    mp4 = make_clip(caption=None)
    for cut in (mp4[:100], mp4[:len(mp4) // 2]):  # an MP4's index is at its end: it does not open
        rejects(video, [b64(cut)], "corrupt_video")
    rejects(video, [b64(mp4[:-100])], "corrupt_video", stage="extract:video")  # the index opens, the data is gone
    webm = make_clip("webm", "libvpx-vp9", caption=None, seconds=4.0)  # streamable: opens, then ends early
    err = rejects(video, [b64(webm[:len(webm) // 2])], "corrupt_video", stage="extract:video")
    assert "declares 4.0 s" in err.detail


def test_mangled_clips_get_a_result_or_a_reason_quickly(video):
    """300 clips with random bytes overwritten and some cut short (seeded): each one is read or refused with a
    PostError, never anything else, each in well under a second."""
    import random

    rng = random.Random(7)
    clips = [make_clip("mp4", "libx264", seconds=1.0, caption=None), make_clip("webm", "libvpx-vp9", seconds=1.0,
             caption=None), make_clip("matroska", "libx265", seconds=1.0, caption=None, wav=tone())]
    reasons, slowest = set(), 0.0
    for _ in range(300):
        data = bytearray(rng.choice(clips))
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data))]
        began = time.perf_counter()
        try:
            [result] = video.extract("videos", [video.validate("videos", [b64(bytes(data))])])
        except PostError as exc:
            result = exc
        slowest = max(slowest, time.perf_counter() - began)
        assert isinstance(result, (Extraction, PostError)), repr(result)
        reasons.add(result.reason if isinstance(result, PostError) else "read")
    assert {"read", "corrupt_video"} <= reasons and slowest < 0.5, (reasons, slowest)


def test_limits_name_their_setting(video):
    clip = make_clip(caption=None, seconds=1.0)
    rejects(video, [b64(clip)], "media_too_large", setting="max_bytes", max_bytes=len(clip) - 1)
    rejects(video, [b64(clip)] * 3, "too_many_items", setting="max_clips", max_clips=2)
    rejects(video, [b64(clip)], "video_too_long", setting="max_seconds", max_seconds=0.5)
    rejects(video, [b64(clip)], "resolution_too_large", setting="max_pixels", max_pixels=640 * 360 - 1)
    rejects(video, [b64(clip)], "too_many_frames", setting="max_frames", max_frames=11)
    # a WebM declares no frame count and this one a rate of 1 a second over 4 s: its 33 frames are counted
    under = timed_clip([0, 1, 2] + [2 + i / 30 for i in range(1, 31)], (160, 120), "libvpx", fmt="webm")
    rejects(video, [b64(under)], "too_many_frames", stage="extract:video", setting="max_frames", max_frames=20)
    rejects(video, [b64(make_clip(caption=None, seconds=1.0, wav=tone()))], "too_many_streams",
            setting="max_streams", max_streams=1)
    rejects(video, [b64(clip)], "video_decode_timeout", stage="extract:video", setting="decode_seconds",
            decode_seconds=1e-9)


def test_a_bad_setting_is_refused_naming_it():
    from mmstream_video.extractor import VideoExtractor

    with pytest.raises(ConfigError, match="MMSTREAM_PLUGIN_VIDEO_MAX_CLIPS='none'"):
        VideoExtractor(settings(max_clips="none"))


# -- bombs: bounded time and memory ---------------------------------------------------------------------------------

_MEASURE = """
import base64, json, re, sys, time
from pathlib import Path
from mmstream.plugin import PostError
from mmstream.settings import Settings
from mmstream_video.extractor import VideoExtractor
import av  # the plugin imports PyAV at its first clip: here before measuring, so the figures are the clip's own

def status(key):
    return int(re.search(key + r":\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024

value = [{"b64": base64.b64encode(Path(sys.argv[1]).read_bytes()).decode()}] * int(sys.argv[2])
out = []
for limits in json.loads(sys.argv[3]):
    video = VideoExtractor(Settings.load(plugin_options={"video": limits}))
    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS from here on
    before, began = status("VmRSS"), time.perf_counter()
    try:
        [result] = video.extract("videos", [video.validate("videos", value)])
    except PostError as exc:
        result = exc
    row = {"seconds": time.perf_counter() - began, "grew_mb": status("VmHWM") - before}
    row.update({"reason": result.reason, "detail": result.detail} if isinstance(result, PostError) else
               {"report": result.report, "sizes": [f.size for f in result.derived["video_frames"]]})
    out.append(row)
print(json.dumps(out))
"""


def measured(tmp_path: Path, data: bytes, *limits: dict, clips: int = 1) -> list[dict]:
    """Per set of limits, in one fresh process (nothing freed earlier hides a peak): ``seconds``,
    ``grew_mb`` (its peak RSS above its RSS before the call) and the reason, or the report."""
    path = tmp_path / "clip.bin"
    path.write_bytes(data)
    settings_ = json.dumps([{k: str(v) for k, v in lim.items()} for lim in limits])
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path), str(clips), settings_], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.splitlines()[-1])
    for lim, row in zip(limits, rows):
        print(f"{lim or 'defaults'}: {row['seconds']:.3f} s, peak RSS +{row['grew_mb']:.0f} MB, "
              f"{row.get('reason', 'accepted')}")
    return rows


def test_a_single_8k_frame_is_refused_from_its_header_and_decoded_bounded_when_allowed(tmp_path):
    refused, allowed = measured(tmp_path, timed_clip([0.0], (7680, 4320)), {}, {"max_pixels": 7680 * 4320})
    assert refused["reason"] == "resolution_too_large" and "7680x4320" in refused["detail"]
    assert refused["seconds"] < 0.5 and refused["grew_mb"] < 20
    assert allowed["sizes"] == [[1280, 720]]  # one 8K frame (50 MB as YUV), scaled down at once
    assert allowed["seconds"] < 3 and allowed["grew_mb"] < 200


def test_a_declared_two_hour_clip_is_refused_and_costs_little_when_allowed(tmp_path):
    two_hours = timed_clip([0.0, 3600.0, 7199.0], (320, 240), gop=1)
    refused, allowed = measured(tmp_path, two_hours, {}, {"max_seconds": 8000})
    assert refused["reason"] == "video_too_long" and "7200" in refused["detail"]
    assert refused["seconds"] < 0.5 and refused["grew_mb"] < 20
    assert allowed["report"]["clips"][0]["keyframes_used"] == [0.0, 3600.0, 7199.0]
    assert allowed["seconds"] < 1 and allowed["grew_mb"] < 40


def test_a_stream_of_nothing_but_keyframes_decodes_eight(tmp_path):
    every = make_clip(caption=None, seconds=20.0, fps=24, gop=1, size=(1280, 720))  # 480 keyframes
    [row] = measured(tmp_path, every, {})
    [clip] = row["report"]["clips"]
    assert clip["keyframes"] == 480 and len(clip["keyframes_used"]) == 8
    assert clip["keyframes_used"][0] == 0.0 and clip["keyframes_used"][-1] > 18
    assert row["seconds"] < 1.5 and row["grew_mb"] < 80


def test_forty_clips_in_one_post(tmp_path):
    clip = make_clip(caption=None, seconds=2.0, size=(640, 360))
    refused, allowed = measured(tmp_path, clip, {}, {"max_clips": 40}, clips=40)
    assert refused["reason"] == "too_many_items" and "MMSTREAM_PLUGIN_VIDEO_MAX_CLIPS" in refused["detail"]
    assert refused["seconds"] < 0.1
    assert allowed["report"]["count"] == 40 and allowed["report"]["frames_handed_on"] == 8  # post_frames, in all
    assert allowed["seconds"] < 3 and allowed["grew_mb"] < 80


# -- through the whole pipeline: `mmstream score` ------------------------------------------------------------------


# -- hostile media through the real broker -------------------------------------------------------------------------


