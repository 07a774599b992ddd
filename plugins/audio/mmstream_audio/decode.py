"""Safe decoding of one audio clip to what Whisper hears: 16 kHz mono float32.

A clip is the bytes of a file (MP3, AAC/M4A, OGG/Opus, WAV, FLAC) or of any
container with an audio stream (MP4/MOV, WebM/MKV: the video plugin hands a
clip's bytes on). FFmpeg (inside PyAV) only ever reads these bytes: the
demuxers it may use are listed (:data:`CONTAINERS`; no playlist or concat
demuxer, so nothing a file names is opened), the codecs it may decode too
(:data:`CODECS`). Checks go from the cheapest signal first: the magic bytes,
the header (streams, codec, sample rate, channels), then the samples, decoded
one packet at a time and resampled as they come, up to ``max_seconds`` and
within ``decode_seconds``: a clip that declares two hours, or lies about its
sample rate, costs at most that.
"""
from __future__ import annotations

import io
import struct
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from mmstream.plugin import PostError
from mmstream_audio.limits import AudioLimits, env

if TYPE_CHECKING:  # the types the annotations name; PyAV itself is imported where a clip is read
    import av

#: Whisper's input rate
RATE = 16_000
#: FFmpeg demuxers a clip may be read with (FFmpeg's names; "mov" is MP4/M4A/MOV, "matroska" MKV/WebM)
CONTAINERS = ("wav", "mp3", "aac", "mov,mp4,m4a,3gp,3g2,mj2", "ogg", "flac", "matroska,webm")
#: audio decoders a clip may need (FFmpeg's names), PCM of every kind besides
CODECS = frozenset({"mp3", "mp3float", "aac", "aac_fixed", "opus", "libopus", "vorbis", "flac", "alac"})
#: streams a container may hold (a video clip has two or three)
MAX_STREAMS = 16
#: a clip decoding to less than this share of its declared duration is truncated
WHOLE = 0.8
#: magic bytes of files that are surely not audio, for a clearer dead letter
_NOT_AUDIO = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
              (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"), (b"BM", "a BMP image"))
_FORMATS = "MP3, AAC/M4A, OGG/Opus, WAV or FLAC (or an MP4/MOV/WebM/MKV clip with an audio stream)"


@dataclass
class Clip:
    """A decoded clip: ``samples`` 16 kHz mono float32 (at most ``max_seconds``), and what its header said."""

    samples: np.ndarray
    container: str
    codec: str
    sample_rate: int
    channels: int
    declared: float | None  # seconds, from the header (None when it says nothing)
    truncated: bool  # longer than max_seconds: only the start was decoded

    @property
    def duration(self) -> float:
        return len(self.samples) / RATE

    def facts(self) -> dict[str, object]:
        """The clip's report entries (JSON-able)."""
        return {"duration": round(self.duration, 3), "container": self.container, "codec": self.codec,
                "sample_rate": self.sample_rate, "channels": self.channels,
                "declared_duration": None if self.declared is None else round(self.declared, 3),
                "truncated": self.truncated}


def fail(reason: str, detail: str) -> PostError:
    """A dead letter of stage ``validate`` (the extractor re-stamps those raised while it extracts)."""
    return PostError(reason, detail, "validate")


def check_bytes(where: str, data: object, limits: AudioLimits) -> bytes:
    """``data`` when it is a non-empty ``bytes`` within ``max_bytes`` (a value handed on by another plugin)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise fail("wrong_type", f"{where} must be the bytes of an audio file, got {type(data).__name__}; "
                   "the plugin that derived it must hand on bytes.")
    if not data:
        raise fail("empty_media", f"{where} is a zero-length file; send the whole recording.")
    if len(data) > limits.max_bytes:
        raise fail("media_too_large", f"{where} is {len(data)} bytes, over the limit of {limits.max_bytes}; "
                   f"send a shorter or more compressed clip, or raise {env('max_bytes')}.")
    return data


def open_clip(where: str, data: bytes, limits: AudioLimits) -> tuple[av.container.InputContainer, av.AudioStream]:
    """Open ``data`` (header only) and check its audio stream: the first of the container's audio streams."""
    import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
    for magic, what in _NOT_AUDIO:
        if data.startswith(magic):
            raise fail("not_audio", f"{where} is {what}, not audio; send {_FORMATS}.")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise fail("not_audio", f"{where} is a WebP image, not audio; send {_FORMATS}.")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        _check_wav_size(where, data)
    try:
        container = av.open(io.BytesIO(data), options={"format_whitelist": ",".join(CONTAINERS)},
                            metadata_errors="ignore")
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise fail("corrupt_audio", f"{where} is not a readable audio file ({_why(exc)}); send {_FORMATS}, "
                   "complete and not re-wrapped.") from None
    try:
        return container, _check_stream(where, container, limits)
    except BaseException:
        container.close()
        raise


def _check_wav_size(where: str, data: bytes) -> None:
    """A WAV whose data chunk declares more bytes than the file holds is truncated (FFmpeg would quietly
    read what is there, and report the duration of that). A size of 0 or 0xFFFFFFFF means "unknown"
    (a WAV written as a stream) and is let through."""
    pos, byte_rate = 12, 0
    for _ in range(64):  # chunks before the data: fmt, LIST, fact ... a few at most
        if pos + 8 > len(data):
            return
        kind, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if kind == b"fmt " and size >= 16 and pos + 24 <= len(data):
            byte_rate = struct.unpack_from("<I", data, pos + 16)[0]
        if kind == b"data":
            held = len(data) - pos - 8
            if size not in (0, 0xFFFFFFFF) and size > held and byte_rate:
                raise fail("truncated_audio", f"{where} declares {size / byte_rate:.1f} s of samples but holds "
                           f"{held / byte_rate:.1f} s; it is truncated: resend the complete file.")
            return
        pos += 8 + size + (size & 1)


def _check_stream(where: str, container: av.container.InputContainer, limits: AudioLimits) -> av.AudioStream:
    if len(container.streams) > MAX_STREAMS:
        raise fail("too_many_streams", f"{where} holds {len(container.streams)} streams, more than "
                   f"{MAX_STREAMS}; send a clip with one audio stream.")
    if not container.streams.audio:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
        raise fail("no_audio_stream", f"{where} is a {container.format.name} file with {kinds} but no audio; "
                   "send a clip with sound.")
    stream = container.streams.audio[0]
    codec = stream.codec_context.name if stream.codec_context is not None else "unknown"
    if codec not in CODECS and not codec.startswith("pcm_"):
        raise fail("unsupported_audio_codec", f"{where} holds {codec} audio; send MP3, AAC, Opus, Vorbis, FLAC, "
                   "ALAC or PCM audio.")
    rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
    if not limits.min_sample_rate <= rate <= limits.max_sample_rate:
        raise fail("bad_sample_rate", f"{where} declares a sample rate of {rate} Hz, outside "
                   f"{limits.min_sample_rate}-{limits.max_sample_rate} Hz; resample it, or change "
                   f"{env('min_sample_rate')} / {env('max_sample_rate')}.")
    if not 1 <= channels <= limits.max_channels:
        raise fail("bad_channels", f"{where} declares {channels} audio channels, outside 1-{limits.max_channels}; "
                   f"mix it down, or raise {env('max_channels')}.")
    return stream


def probe(where: str, data: bytes, limits: AudioLimits) -> None:
    """The header checks of :func:`decode` alone (no samples decoded): cheap, for ``validate``."""
    container, _ = open_clip(where, data, limits)
    container.close()


def decode(where: str, data: bytes, limits: AudioLimits) -> Clip:
    """Decode ``data`` to 16 kHz mono float32, at most ``max_seconds`` of it, within ``decode_seconds``.
    PostError naming the fix."""
    import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
    container, stream = open_clip(where, data, limits)
    began = time.monotonic()
    keep = int(limits.max_seconds * RATE)
    parts: list[np.ndarray] = []
    have = 0
    truncated = False
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    declared = _declared(container, stream)
    facts = (container.format.name, stream.codec_context.name, stream.codec_context.sample_rate,
             stream.codec_context.channels)
    try:
        with container:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    _check_frame(where, frame, limits)
                    for out in resampler.resample(frame):
                        parts.append(out.to_ndarray().reshape(-1))
                        have += out.samples
                if have > keep:
                    truncated = True
                    break
                if time.monotonic() - began > limits.decode_seconds:
                    raise fail("audio_decode_timeout", f"{where} took over {limits.decode_seconds:g} s to "
                               f"decode ({have / RATE:.1f} s of audio read); send a simpler file, or raise "
                               f"{env('decode_seconds')}.")
            if not truncated:
                for out in resampler.resample(None):
                    parts.append(out.to_ndarray().reshape(-1))
    except (av.FFmpegError, ValueError) as exc:
        if declared is not None and have / RATE < WHOLE * min(declared, limits.max_seconds) - 0.5:
            raise fail("truncated_audio", f"{where} declares {declared:.1f} s but breaks off after "
                       f"{have / RATE:.1f} s ({_why(exc)}); it is truncated: resend the complete file.") from None
        raise fail("corrupt_audio", f"{where} is corrupt ({_why(exc)}) after {have / RATE:.1f} s of audio; "
                   "re-encode and resend the complete file.") from None
    samples = np.concatenate(parts)[:keep] if parts else np.zeros(0, np.float32)
    clip = Clip(samples.astype(np.float32, copy=False), *facts, declared, truncated)
    _check_whole(where, clip, limits)
    return clip


def _check_frame(where: str, frame: av.AudioFrame, limits: AudioLimits) -> None:
    """A frame's own rate and channels (a stream may change them midway)."""
    if not limits.min_sample_rate <= frame.sample_rate <= limits.max_sample_rate:
        raise fail("bad_sample_rate", f"{where} changes to a sample rate of {frame.sample_rate} Hz "
                   f"midway, outside {limits.min_sample_rate}-{limits.max_sample_rate} Hz; re-encode it, "
                   f"or change {env('min_sample_rate')} / {env('max_sample_rate')}.")
    if not 1 <= len(frame.layout.channels) <= limits.max_channels:
        raise fail("bad_channels", f"{where} changes to {len(frame.layout.channels)} channels midway; "
                   f"re-encode it, or raise {env('max_channels')}.")


def _declared(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * Fraction(stream.time_base))
    if container.duration:
        return container.duration / 1_000_000
    return None


def _check_whole(where: str, clip: Clip, limits: AudioLimits) -> None:
    """A clip that holds much less sound than its header declares is truncated (or a bomb that declares
    hours it does not have); one with no sound at all is corrupt."""
    if clip.duration == 0:
        raise fail("corrupt_audio", f"{where} holds no decodable audio; re-encode and resend the file.")
    if clip.truncated or clip.declared is None:
        return
    expected = min(clip.declared, limits.max_seconds)
    if clip.duration < WHOLE * expected - 0.5:
        raise fail("truncated_audio", f"{where} declares {clip.declared:.1f} s but holds "
                   f"{clip.duration:.1f} s of audio; it is truncated: resend the complete file.")


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
