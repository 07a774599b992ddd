"""The spoken TweetEval set of ``mmstream eval --media``: held-out TweetEval sentiment TEST tweets
(never trained on) carried three ways, each tweet

* as a **voice note** (``audio``): espeak-ng speech (0.4 s of silence either side) as Ogg/Opus, M4A
  (AAC) or WAV in turn;
* as a **spoken video** (``videos``): the same speech as AAC under a plain H.264 picture with no text
  (a coloured frame and a shape), MP4;
* as a **captioned clip** (``videos``): silent H.264 MP4 of a few seconds with the text burned in as
  wrapped caption lines (Pillow), no sound.

What is spoken or captioned is :func:`spoken_form` of the tweet: links dropped, ``@user`` (TweetEval's
anonymised handle) dropped, other handles and hashtags said as words (``@AmericanAir`` -> ``American
Air``), emoji and symbols dropped. A seeded third of the tweets is addressed to a brand of
``mmstream/samples/brands.toml`` (``@AcmeAir`` first in the text; said and captioned ``Acme Air``).
Voices (espeak-ng variants) and speeds are drawn per tweet from the seed. The files are built once per
(seed, size, version) under ``~/.cache/mmstream/media-eval/`` and reused; nothing goes into the repo.
"""
from __future__ import annotations

import hashlib
import html
import io
import json
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mmstream.errors import ConfigError
from mmstream.progress import Progress

VERSION = 2  # bump when what is built changes: the cache key
SEED = 7_100_003  # apart from the training seeds and the memes' (7_000_003)
VOICES = ("en-us", "en-us+f3", "en-us+m3", "en+f4", "en-us+m7", "en-gb", "en-gb-x-rp+f2", "en-029", "en-us-nyc+m1")
SPEEDS = (140, 155, 165, 175, 185)
AUDIO_FORMATS = ("ogg", "m4a", "wav")  # voice notes in turn
#: brand handles put first in a third of the tweets (ids and aliases of mmstream/samples/brands.toml)
BRANDS = (("acme", "@AcmeAir"), ("nimbus", "@Nimbus"), ("brewly", "@Brewly"))
BRANDS_FILE = Path(__file__).resolve().parents[1] / "samples" / "brands.toml"
CAPTION_SIZE, CAPTION_SECONDS, FPS = (640, 360), 3.0, 5
#: silence before and after the speech: a voice note starts a moment before the first word (espeak-ng starts
#: speaking at its first sample, and Whisper then often loses or garbles the first word: a brand named first)
LEAD_IN = 0.4
VIDEO_SIZE = (320, 240)


def say_handle(name: str) -> str:
    """``AmericanAir`` -> ``American Air``, ``realDonaldTrump`` -> ``real Donald Trump``, ``POTUS``
    stays, ``united_fail`` -> ``united fail``."""
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
    return " ".join(parts)


def spoken_form(text: str) -> str:
    """A tweet as a person would say it (see the module's docstring); may be empty."""
    text = html.unescape(text).replace("’", "'").replace("‘", "'")
    text = re.sub(r"https?://\S+|www\.\S+", " ", text)
    text = re.sub(r"(?<!\w)@user\b", " ", text)
    text = re.sub(r"^\s*RT\b:?", " ", text)
    text = re.sub(r"<3+", " ", text)  # a heart
    text = re.sub(r"[@#](\w+)", lambda m: " " + say_handle(m.group(1)), text)
    text = text.replace("&", " and ")
    text = re.sub(r"[^\w\s'.,!?:;-]", " ", text)  # emoji, symbols, quotes
    text = re.sub(r"([.,!?:;-])[.,!?:;-]+", r"\1", text)  # "!!!" said once
    text = re.sub(r"\s+([.,!?:;])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip(" -:;,")


@dataclass
class Item:
    """One tweet of the set: its text post, what is said and shown, and its three files (names in the
    set's folder)."""

    index: int  # line in the TweetEval sentiment test split
    label: int  # 0 negative, 1 neutral, 2 positive
    text: str  # the text post: the tweet (with the brand handle first when ``brand``)
    said: str  # what is spoken and captioned: spoken_form(text)
    brand: str | None
    voice: str
    speed: int
    seconds: float  # of speech
    audio: str
    video: str
    captions: str


def espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise ConfigError("the spoken set needs espeak-ng to speak the tweets: apt-get install espeak-ng")
    return found


def speak(text: str, voice: str, speed: int, lead_in: float = LEAD_IN) -> bytes:
    """espeak-ng's WAV (22,050 Hz mono 16-bit) of ``text``, ``lead_in`` seconds of silence either side."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run([espeak(), "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, timeout=120,
                       capture_output=True)
        with wave.open(str(path), "rb") as src:
            params, frames = src.getparams(), src.readframes(src.getnframes())
        silence = b"\0" * (round(lead_in * params.framerate) * params.sampwidth * params.nchannels)
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            out.setparams(params)
            out.writeframes(silence + frames + silence)
        return buf.getvalue()


def sound_packets(out, wav: bytes, codec: str, rate: int, bit_rate: int | None) -> list:
    """``wav`` encoded as ``codec`` (mono, ``rate``) for the container ``out``: its packets (a new stream of ``out``)."""
    import av

    stream = out.add_stream(codec, rate=rate, layout="mono")
    if bit_rate:
        stream.bit_rate = bit_rate
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate,
                                  frame_size=stream.codec_context.frame_size or 960)
    packets: list = []
    with av.open(io.BytesIO(wav)) as src:
        for frame in src.decode(audio=0):
            for chunk in resampler.resample(frame):
                packets += stream.encode(chunk)
    for chunk in resampler.resample(None):
        packets += stream.encode(chunk)
    return packets + list(stream.encode())


def duration(data: bytes) -> float:
    import av

    with av.open(io.BytesIO(data)) as src:
        return float(src.duration or 0) / av.time_base


def voice_note(wav: bytes, fmt: str) -> bytes:
    """``ogg`` (Opus 24 kb/s), ``m4a`` (AAC 32 kb/s) or ``wav`` (as espeak wrote it)."""
    import av

    if fmt == "wav":
        return wav
    codec, rate, bits, container = {"ogg": ("libopus", 48000, 24000, "ogg"), "m4a": ("aac", 22050, 32000, "ipod")}[fmt]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        for packet in sound_packets(out, wav, codec, rate, bits):
            out.mux(packet)
    return buf.getvalue()


def _mp4(frames: list, wav: bytes | None, size: tuple[int, int]) -> bytes:
    """H.264 at FPS with a keyframe a second (+ AAC when ``wav``), MP4."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=FPS, options={"crf": "28", "preset": "veryfast"})
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.codec_context.gop_size = FPS
        packets = []
        for img in frames:
            packets += vs.encode(av.VideoFrame.from_image(img))
        packets += vs.encode()
        if wav is not None:
            packets += sound_packets(out, wav, "aac", 22050, 32000)
        for packet in packets:
            out.mux(packet)
    return buf.getvalue()


def spoken_video(wav: bytes, seed: int) -> bytes:
    """The speech under a plain picture without text: a coloured ground and a moving disc."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    ground, disc = tuple(int(v) for v in rng.integers(30, 200, 3)), tuple(int(v) for v in rng.integers(120, 255, 3))
    frames = []
    for i in range(max(1, round((duration(wav) + 0.2) * FPS))):
        img = Image.new("RGB", VIDEO_SIZE, ground)
        x = 60 + 4 * (i % 30)
        ImageDraw.Draw(img).ellipse([x, 70, x + 100, 170], fill=disc)
        frames.append(img)
    return _mp4(frames, wav, VIDEO_SIZE)


def wrap(text: str, draw, font, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def caption_clip(text: str) -> bytes:
    """A silent clip of CAPTION_SECONDS: ``text`` in white wrapped lines with a black outline on a dark
    ground, the same on every frame (one keyframe a second: the video plugin reads the repeats once)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", CAPTION_SIZE, (40, 44, 52))
    draw = ImageDraw.Draw(img)
    for size in (30, 26, 22, 18):  # the largest font whose lines fit the frame
        font = ImageFont.load_default(size=size)
        lines = wrap(text, draw, font, CAPTION_SIZE[0] - 40)
        height = int(size * 1.35)
        if len(lines) * height <= CAPTION_SIZE[1] - 30:
            break
    top = (CAPTION_SIZE[1] - len(lines) * height) // 2
    for k, line in enumerate(lines):
        draw.text((20, top + k * height), line, font=font, fill="white", stroke_width=2, stroke_fill="black")
    return _mp4([img] * round(CAPTION_SECONDS * FPS), None, CAPTION_SIZE)


def choose(count: int, seed: int = SEED) -> list[tuple[int, str, int, str | None]]:
    """``count`` test tweets (index, text post, label, brand id), drawn with ``seed`` among those with
    at least 3 words to say; every third one addressed to a brand."""
    from mmstream.training.data import tweeteval_sentiment

    texts, y = tweeteval_sentiment("test")
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, str, int, str | None]] = []
    for i in rng.permutation(len(texts)):
        if len(spoken_form(texts[i]).split()) < 3:
            continue
        brand = None
        if len(chosen) % 3 == 2:
            brand, handle = BRANDS[(len(chosen) // 3) % len(BRANDS)]
            chosen.append((int(i), f"{handle} {texts[i]}", int(y[i]), brand))
        else:
            chosen.append((int(i), texts[i], int(y[i]), None))
        if len(chosen) == count:
            break
    return chosen


def cache_root() -> Path:
    return Path.home() / ".cache" / "mmstream" / "media-eval"


def build(count: int, seed: int = SEED, root: Path | None = None) -> tuple[Path, list[Item]]:
    """The set's folder and items, built (with progress on stderr) unless cached."""
    import av
    import PIL

    version = subprocess.run([espeak(), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    key = hashlib.sha256(json.dumps([VERSION, seed, count, version, av.__version__, PIL.__version__]).encode())
    folder = (root or cache_root()) / f"n{count}-s{seed}-{key.hexdigest()[:10]}"
    manifest = folder / "manifest.json"
    if manifest.is_file():
        return folder, [Item(**d) for d in json.loads(manifest.read_text())]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    items = []
    with Progress("building the spoken set", total=count, unit="tweets") as progress:
        for n, (index, text, label, brand) in enumerate(choose(count, seed)):
            said = spoken_form(text)
            voice, speed = VOICES[rng.integers(len(VOICES))], int(SPEEDS[rng.integers(len(SPEEDS))])
            wav = speak(said, voice, speed)
            fmt = AUDIO_FORMATS[(n + n // 3) % len(AUDIO_FORMATS)]  # every format among the branded (n % 3 == 2)
            names = (f"{n:04d}.{fmt}", f"{n:04d}.spoken.mp4", f"{n:04d}.captions.mp4")
            for name, data in zip(names, (voice_note(wav, fmt), spoken_video(wav, seed + n), caption_clip(said))):
                (folder / name).write_bytes(data)
            items.append(Item(index, label, text, said, brand, voice, speed, round(duration(wav), 3), *names))
            progress.update(1)
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(i) for i in items], indent=1))
    tmp.replace(manifest)
    return folder, items
