"""The cheap look at a clip, before any frame is decoded: what its first bytes say it
is, then its container header (streams, codecs, declared duration, resolution and
frame count) held to the limits.

The container format is chosen here from the magic bytes (MP4/MOV or Matroska/WebM)
and FFmpeg is told to open only that one: its own probing would also try demuxers
that read other files or URLs named inside the data (HLS playlists, concat lists).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any


from mmstream.plugin import PostError
from mmstream_video.limits import VideoLimits, over

VIDEO_CODECS = ("h264", "hevc", "vp8", "vp9", "av1")
AUDIO_CODECS = ("aac", "mp3", "opus", "vorbis", "flac", "alac")  # and PCM (pcm_*)
#: what FFmpeg may read of a clip to find its streams' parameters (the header is at the start or,
#: in an MP4 without faststart, at the end: the demuxer seeks there, the probe does not count it)
OPEN_OPTIONS = {"probesize": "5000000", "analyzeduration": "5000000"}
#: streams a container may create while it is opened (FFmpeg's max_streams: opening decodes a frame of
#: each video stream to learn its pixel format, each held to max_pixels); past it the file does not open
OPEN_STREAMS = 256
_MOV_ATOMS = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_IMAGES = ((b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"))
_SOUNDS = ((b"ID3", "MP3"), (b"OggS", "Ogg"), (b"fLaC", "FLAC"), (b"#!AMR", "AMR"))


@dataclass
class Clip:
    """A probed clip: its bytes and what its header declares (``report()`` gives the JSON form)."""

    where: str
    data: bytes
    container: str  # mp4, mov, webm, mkv
    demuxer: str  # the FFmpeg demuxer: mov or matroska
    streams: int
    video_index: int
    video: dict[str, Any]
    audio: dict[str, Any] | None
    duration: float | None  # seconds, declared
    frames: int | None = None  # declared video frames (MP4 says; Matroska does not)
    audio_index: int | None = None  # the sound stream handed on (the first one)
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {"container": self.container, "bytes": len(self.data), "duration": self.duration,
                "streams": self.streams, "video": self.video, "audio": self.audio, **self.extra}


def corrupt(where: str, what: str, stage: str = "validate") -> PostError:
    return PostError("corrupt_video", f"{where} is truncated or corrupt ({what}); re-encode and resend the "
                     "complete file.", stage)


def sniff(where: str, data: bytes) -> tuple[str, str]:
    """``(container, demuxer)`` from the first bytes; PostError for anything that is not MP4/MOV/WebM/MKV."""
    head = data[:64]
    if head[4:8] in _MOV_ATOMS:
        return ("mov" if head[4:8] != b"ftyp" or head[8:12] == b"qt  " else "mp4"), "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ("webm" if b"webm" in head else "mkv"), "matroska"
    image = next((name for magic, name in _IMAGES if head.startswith(magic)), None)
    if image is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        image = "WebP"
    if image:
        raise PostError("not_a_video", f"{where} is a {image} image, not a video; send it under the post's "
                        "'images' key.", "validate")
    sound = next((name for magic, name in _SOUNDS if head.startswith(magic)), None)
    if sound is None and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        sound = "WAV"
    if sound is None and len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        sound = "MP3/AAC"
    if sound:
        raise audio_only(where, f"a {sound} sound file")
    raise PostError("unsupported_container", f"{where} is not an MP4, MOV, WebM or MKV file; re-encode it to one "
                    "of those (H.264, HEVC, VP8, VP9 or AV1 video).", "validate")


def audio_only(where: str, what: str) -> PostError:
    return PostError("audio_sent_as_video", f"{where} is {what} with no picture; send sound under the post's "
                     "'audio' key.", "validate")


def open_clip(where: str, data: bytes, demuxer: str, limits: VideoLimits) -> Any:
    """The clip's container, opened with ``demuxer`` only; ``corrupt_video`` when FFmpeg cannot read it.
    Opening decodes the first frame of each stream (FFmpeg's find_stream_info, for the pixel format):
    every decoder it opens refuses a frame over ``limits.max_pixels`` before allocating it."""
    import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
    streams = max(OPEN_STREAMS, limits.max_streams + 1)
    try:
        return av.open(io.BytesIO(data), mode="r", format=demuxer,
                       options={**OPEN_OPTIONS, "max_streams": str(streams)},
                       stream_options=[{"max_pixels": str(limits.max_pixels)}] * streams)
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise corrupt(where, _short(exc)) from None


def probe(where: str, data: bytes, limits: VideoLimits) -> Clip:
    """Sniff, open and check the header of one clip (no frame decoded). PostError (stage ``validate``)
    naming the fix: the container, the codecs, and each declared size against its limit."""
    container, demuxer = sniff(where, data)
    with open_clip(where, data, demuxer, limits) as c:
        streams = list(c.streams)
        if len(streams) > limits.max_streams:
            raise over("too_many_streams", where, f"has {len(streams)} streams", limits.max_streams,
                       "max_streams", "send one video and one sound stream")
        videos = [s for s in streams if s.type == "video" and not _attached_picture(s)]
        audios = [s for s in streams if s.type == "audio"]
        if not videos:
            if audios:
                raise audio_only(where, f"a {container.upper()} file holding only sound")
            raise PostError("not_a_video", f"{where} holds no video stream; send a video (or sound under the "
                            "post's 'audio' key).", "validate")
        vs = videos[0]
        video = _video_info(where, vs, limits)
        audio = _audio_info(where, audios[0]) if audios else None
        duration = _duration(c, vs)
        if duration is not None and duration > limits.max_seconds:
            raise over("video_too_long", where, f"declares {duration:.1f} s", f"{limits.max_seconds:g} s",
                       "max_seconds", "cut it shorter")
        frames = int(vs.frames or 0) or None
        estimate = frames or (round(duration * video["fps"]) if duration and video["fps"] else 0)
        if estimate > limits.max_frames:
            raise over("too_many_frames", where, f"declares {estimate} video frames", limits.max_frames,
                       "max_frames", "send a shorter clip or a lower frame rate")
        return Clip(where, data, container, demuxer, len(streams), vs.index, video, audio, duration, frames,
                    audios[0].index if audios else None)


def _video_info(where: str, vs: Any, limits: VideoLimits) -> dict[str, Any]:
    codec = codec_name(vs)
    if codec not in VIDEO_CODECS:
        raise PostError("unsupported_codec", f"{where} has {codec or 'unknown'} video; re-encode it as H.264, "
                        "HEVC, VP8, VP9 or AV1.", "validate")
    width, height = int(vs.codec_context.width or 0), int(vs.codec_context.height or 0)
    if width < 1 or height < 1:
        raise corrupt(where, "its video stream declares no picture size")
    if width * height > limits.max_pixels:
        raise over("resolution_too_large", where, f"is {width}x{height} = {width * height} pixels a frame",
                   limits.max_pixels, "max_pixels", "downscale it")
    rate = vs.average_rate or vs.guessed_rate
    return {"codec": codec, "width": width, "height": height, "fps": round(float(rate), 3) if rate else None}


def _audio_info(where: str, stream: Any) -> dict[str, Any]:
    codec = codec_name(stream)
    if codec not in AUDIO_CODECS and not codec.startswith("pcm_"):
        raise PostError("unsupported_codec", f"{where} has {codec or 'unknown'} sound; re-encode it as AAC, MP3, "
                        "Opus, Vorbis, FLAC or PCM.", "validate")
    ctx = stream.codec_context
    return {"codec": codec, "sample_rate": int(ctx.sample_rate or 0) or None,
            "channels": int(ctx.channels or 0) or None}


def codec_name(stream: Any) -> str:
    """The codec's own name (``av1``, not the decoder's ``libdav1d``); '' when FFmpeg has no decoder for it."""
    try:
        return str(stream.codec_context.codec.canonical_name)
    except Exception:  # noqa: BLE001 - no decoder: reported as unsupported
        return ""


def _duration(container: Any, vs: Any) -> float | None:
    import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
    if container.duration:
        return round(container.duration / av.time_base, 3)
    if vs.duration and vs.time_base:
        return round(float(vs.duration * vs.time_base), 3)
    return None


def _attached_picture(stream: Any) -> bool:
    """Cover art stored as a one-picture 'video' stream beside the sound."""
    import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except Exception:  # noqa: BLE001
        return False


def _short(exc: Exception) -> str:
    text = str(exc).replace("'<none>'", "").strip().rstrip(":")
    return text[:200] or type(exc).__name__
