"""Media made here for the tests: clips encoded with PyAV (captions burned into frames with PIL, speech from
espeak-ng muxed as sound), voice notes, tones, and clips with chosen frame times. The plugin tests
(tests/unit/plugins/) and the pipeline tests (tests/integration/test_media_pipeline.py) both use them."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

CAPTION = "BREWLY COFFEE IS COLD"
SPEECH = "I waited an hour for my coffee and it was cold."
ESPEAK = shutil.which("espeak-ng")
QUIET = {"libx265": {"x265-params": "log-level=error"}, "libsvtav1": {"svtav1-params": "log-level=0"}}


def frame(i: int, width: int, height: int, caption: str | None) -> Image.Image:
    """A background changing colour frame by frame, the caption (if any) in large white letters along the
    bottom."""
    img = Image.new("RGB", (width, height), ((40 + 7 * i) % 256, 70, 110))
    draw = ImageDraw.Draw(img)
    if caption:
        font = ImageFont.load_default(size=48)
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        draw.text(((width - right + left) // 2, height - (bottom - top) - 40), caption, font=font, fill="white",
                  stroke_width=3, stroke_fill="black")
    return img


def speech_wav(text: str, tmp: Path, voice: str = "en-us") -> bytes:
    path = tmp / "speech.wav"
    subprocess.run([ESPEAK, "-v", voice, "-s", "165", "-w", str(path), text], check=True, timeout=30)
    return path.read_bytes()


def make_clip(fmt: str = "mp4", codec: str = "libx264", *, caption: str | None = CAPTION, seconds: float = 2.0,
              size: tuple[int, int] = (640, 360), fps: int = 12, gop: int = 6, wav: bytes | None = None,
              audio_codec: str = "aac") -> bytes:
    """A clip encoded here: ``seconds`` of frames (a keyframe every ``gop``), and ``wav`` as its sound."""
    width, height = size
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=fps, options=QUIET.get(codec, {}))
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.gop_size = gop
        if codec.startswith("libx26"):
            vs.codec_context.options = {**QUIET.get(codec, {}), "preset": "ultrafast"}
        packets = [p for i in range(round(seconds * fps)) for p in vs.encode(
            av.VideoFrame.from_image(frame(i, width, height, caption)))] + list(vs.encode())
        if wav is not None:
            packets += sound_track(out, wav, audio_codec)
        for packet in packets:
            out.mux(packet)
    return buf.getvalue()


def sound_track(out, wav: bytes, codec: str) -> list:
    rate = 48000 if codec == "libopus" else 22050
    stream = out.add_stream(codec, rate=rate, layout="mono")
    resampler = av.AudioResampler(format="fltp" if codec == "aac" else "s16", layout="mono", rate=rate,
                                  frame_size=stream.codec_context.frame_size or 1024)
    packets = []
    with av.open(io.BytesIO(wav)) as src:
        for decoded in src.decode(audio=0):
            for chunk in resampler.resample(decoded):
                packets += stream.encode(chunk)
    for chunk in resampler.resample(None):
        packets += stream.encode(chunk)
    return packets + list(stream.encode())


def sound_only(wav: bytes) -> bytes:
    """The speech as AAC in an MP4 with no video stream (what a voice note looks like)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        for packet in sound_track(out, wav, "aac"):
            out.mux(packet)
    return buf.getvalue()


def tone() -> bytes:
    """A short sine tone as a WAV (sound without espeak-ng)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=22050, layout="mono")
        samples = (np.sin(np.arange(22050) * 2 * np.pi * 440 / 22050) * 8000).astype(np.int16)[None, :]
        frame_ = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame_.sample_rate = 22050
        for packet in list(stream.encode(frame_)) + list(stream.encode()):
            out.mux(packet)
    return buf.getvalue()


def timed_clip(times: list[float], size: tuple[int, int], codec: str = "libx264", gop: int = 250,
                fmt: str = "mp4") -> bytes:
    """Frames at the given times (seconds), at a declared rate of 1 a second: a long declared duration
    costs a few frames."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=1)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.codec_context.gop_size = gop
        if codec == "libx264":
            vs.codec_context.options = {"preset": "ultrafast"}
        vs.codec_context.time_base = Fraction(1, 1000)
        packets = []
        for t in times:
            f = av.VideoFrame.from_image(Image.new("RGB", size, (20, 40, 60)))
            f.pts, f.time_base = round(t * 1000), Fraction(1, 1000)
            packets += vs.encode(f)
        for packet in packets + list(vs.encode()):
            out.mux(packet)
    return buf.getvalue()


def speak(tmp_path: Path, text: str, voice: str = "en-us+f3", speed: int = 160) -> bytes:
    out = tmp_path / f"speech-{abs(hash((text, voice, speed)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
    return out.read_bytes()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def overlap(reference: str, heard: str) -> float:
    """The share of the reference's words that were heard."""
    ref, got = words(reference), set(words(heard))
    return sum(w in got for w in ref) / len(ref)


# -- fixtures (imported by the modules that use them) ---------------------------------------------------

@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return speech_wav(SPEECH, tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="module")
def spoken(wav):
    return make_clip(wav=wav, seconds=3.0)
