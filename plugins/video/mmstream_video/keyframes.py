"""Reading a probed clip: one demux pass over every packet (no decoding) that counts
the real frames and length against the limits and keeps a thinned list of keyframe
packets, then only the chosen keyframes decoded (``skip_frame="NONKEY"``).

Costs are bounded whatever the file claims: the demux pass reads at most the clip's
bytes and stops at the frame, length and time limits; at most ``2 * KEPT`` keyframe
packets are held; at most ``limits.keyframes`` frames are decoded (``limits.post_frames``
for all of a post's clips), each of at most ``limits.max_pixels`` pixels (FFmpeg's
``max_pixels`` refuses a bigger one before allocating it), and each is scaled down to
``limits.frame_side`` at once; the sound track is copied as the packets go by.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from mmstream.plugin import PostError
from mmstream_video.limits import VideoLimits, env_name, over
from mmstream_video.probe import Clip, corrupt, open_clip
from mmstream_video.soundtrack import SoundTrack

STAGE = "extract:video"
#: keyframe packets kept while demuxing, before thinning (every other one dropped when twice this many)
KEPT = 32


@dataclass
class Keyframes:
    images: list[Image.Image]
    times: list[float]  # seconds, of each image
    frames: int  # video frames demuxed
    keyframes: int  # keyframes in the clip
    end: float  # seconds, where the last packet ends
    sound: bytes | None = None  # the sound track alone, as Matroska (None: silent, or it could not be copied)


def read_keyframes(clip: Clip, limits: VideoLimits, want: int) -> Keyframes:
    """Up to ``want`` decoded keyframes of ``clip``, spread over it (0: the clip is only checked). PostError
    (stage ``extract:video``) past a limit, for a truncated or corrupt clip, or past the decode time."""
    deadline = time.monotonic() + limits.decode_seconds
    with open_clip(clip.where, clip.data, clip.demuxer, limits) as c:
        vs = c.streams[clip.video_index]
        track = SoundTrack(c.streams[clip.audio_index]) if clip.audio_index is not None else None
        kept, frames, keys, end = _demux(clip, c, vs, limits, deadline, track)
        if clip.duration and end < clip.duration - max(1.0, 0.1 * clip.duration):
            raise corrupt(clip.where, f"the container declares {clip.duration:.1f} s, its data ends at {end:.1f} s",
                          STAGE)
        if not kept:
            raise corrupt(clip.where, "its video stream has no keyframe", STAGE)
        decoded = _decode(clip, vs, _spread(kept, want), limits, deadline) if want > 0 else []
    if want > 0 and not decoded:
        raise corrupt(clip.where, "none of its keyframes decodes", STAGE)
    decoded.sort(key=lambda pair: pair[0])
    return Keyframes([img for _, img in decoded], [round(t, 3) for t, _ in decoded], frames, keys, round(end, 3),
                     track.bytes() if track is not None else None)


def _demux(clip: Clip, c: Any, vs: Any, limits: VideoLimits, deadline: float,
           track: SoundTrack | None) -> tuple[list[Any], int, int, float]:
    """One pass over every packet: ``(kept keyframe packets, video frames, keyframes, end in seconds)``;
    the sound stream's packets are copied into ``track`` on the way."""
    import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
    kept: list[Any] = []
    stride, frames, keys, end = 1, 0, 0, 0.0
    try:
        for n, packet in enumerate(c.demux()):
            if n % 256 == 255 and time.monotonic() > deadline:
                raise timeout(clip.where, limits, "demuxing")
            if packet.size == 0 or packet.pts is None:
                continue
            if packet.time_base is not None:
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if end > limits.max_seconds:
                    raise over("video_too_long", clip.where, f"runs past {end:.1f} s", f"{limits.max_seconds:g} s",
                               "max_seconds", "cut it shorter", STAGE)
            index = packet.stream.index  # before the track takes the packet (it moves it to its own stream)
            if track is not None and index == track.index:
                track.add(packet)
            if index != vs.index:
                continue
            frames += 1
            if frames > limits.max_frames:
                raise over("too_many_frames", clip.where, f"has more than {limits.max_frames} video frames",
                           limits.max_frames, "max_frames", "send a shorter clip or a lower frame rate", STAGE)
            if packet.is_keyframe:
                if keys % stride == 0:
                    kept.append(packet)
                    if len(kept) >= 2 * KEPT:  # thin evenly: keep every other one, and from now on every 2nd
                        kept, stride = kept[::2], stride * 2
                keys += 1
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise corrupt(clip.where, str(exc)[:200], STAGE) from None
    return kept, frames, keys, end


def _spread(kept: list[Any], n: int) -> list[Any]:
    """``n`` of the packets, evenly spaced from the first to the last (all when there are fewer)."""
    if len(kept) <= n:
        return kept
    if n == 1:
        return kept[:1]
    return [kept[round(i * (len(kept) - 1) / (n - 1))] for i in range(n)]


def _decode(clip: Clip, vs: Any, packets: list[Any], limits: VideoLimits,
            deadline: float) -> list[tuple[float, Image.Image]]:
    import av  # PyAV at first use: a worker that never reads a clip (--lanes text) never loads it
    ctx = vs.codec_context
    ctx.skip_frame = "NONKEY"
    ctx.thread_count = 1  # a keyframe at a time: one core, and a bounded frame pool
    ctx.options = {"max_pixels": str(limits.max_pixels)}
    out: list[tuple[float, Image.Image]] = []
    try:
        for packet in packets + [None]:
            if time.monotonic() > deadline:
                raise timeout(clip.where, limits, "decoding its keyframes")
            for frame in ctx.decode(packet):
                seconds = float(frame.pts * vs.time_base) if frame.pts is not None and vs.time_base else 0.0
                out.append((seconds, _image(clip, frame, limits)))
    except av.ArgumentError as exc:  # the decoder refused to open: max_pixels (or a broken codec header)
        if "max_pixels" in str(exc):
            raise over("resolution_too_large", clip.where, "decodes to frames larger than it declares",
                       limits.max_pixels, "max_pixels", "downscale it", STAGE) from None
        raise corrupt(clip.where, str(exc)[:200], STAGE) from None
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        if "max_pixels" in str(exc) or "Picture size" in str(exc):
            raise over("resolution_too_large", clip.where, "decodes to frames larger than it declares",
                       limits.max_pixels, "max_pixels", "downscale it", STAGE) from None
        raise corrupt(clip.where, str(exc)[:200], STAGE) from None
    return out


def _image(clip: Clip, frame: Any, limits: VideoLimits) -> Image.Image:
    """The frame as RGB, scaled (in FFmpeg, from YUV) so its longer side is at most ``frame_side``, and
    turned upright as the container's display matrix says (a phone's portrait clip is often stored on its
    side: OCR would read nothing)."""
    width, height = frame.width, frame.height
    if width * height > limits.max_pixels:
        raise over("resolution_too_large", clip.where, f"decodes to {width}x{height} frames", limits.max_pixels,
                   "max_pixels", "downscale it", STAGE)
    scale = min(1.0, limits.frame_side / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    img = frame.to_image(width=size[0], height=size[1])
    turn = int(frame.rotation or 0)  # degrees counterclockwise, as PIL's rotate takes them
    return img.rotate(turn, expand=True) if turn % 360 and turn % 90 == 0 else img


def timeout(where: str, limits: VideoLimits, doing: str) -> PostError:
    return PostError("video_decode_timeout", f"{where} took more than {limits.decode_seconds:g} s {doing}; send a "
                     f"shorter or smaller clip, or raise {env_name('decode_seconds')}.", STAGE)
