"""The video plugin's limits: plugin settings (``settings.plugin("video")``, so the
environment variables ``MMSTREAM_PLUGIN_VIDEO_<KEY>``), each with the dead-letter
reason a clip past it gets."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mmstream.plugin import ConfigError, PostError, Settings


@dataclass(frozen=True)
class VideoLimits:
    """Defaults suit short social clips (Reels, Shorts, TikTok: up to a few minutes, 4K at most)."""

    #: bytes of one clip (``media_too_large``)
    max_bytes: int = 50_000_000
    #: clips in one post (``too_many_items``)
    max_clips: int = 4
    #: seconds of one clip, declared or demuxed (``video_too_long``)
    max_seconds: float = 600.0
    #: width * height of the video stream, declared or decoded (``resolution_too_large``); 4K UHD
    max_pixels: int = 3840 * 2160
    #: video frames of one clip, declared or demuxed (``too_many_frames``); 10 minutes at 60 fps
    max_frames: int = 36_000
    #: streams in one container, of any kind (``too_many_streams``)
    max_streams: int = 8
    #: seconds to demux one clip and decode its keyframes (``video_decode_timeout``)
    decode_seconds: float = 10.0
    #: keyframes (I-frames) handed to the image path per clip, spread over the clip
    keyframes: int = 8
    #: keyframes handed on for all the clips of one post together (shared out among the clips): OCR reads
    #: each (8 frames of 640x360: 0.6-1.0 s on 2 cores), so this bounds a post's cost in the image plugin
    post_frames: int = 8
    #: longer side, in pixels, of a keyframe handed on (decoded frames are scaled down to it)
    frame_side: int = 1280

    @classmethod
    def from_settings(cls, settings: Settings) -> "VideoLimits":
        """The defaults, overridden by the plugin settings; ConfigError naming the variable for a bad one."""
        given = settings.plugin("video")
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = given.get(f.name)
            if raw is None or raw == "":
                continue
            kind = int if f.type == "int" else float
            try:
                value = kind(raw)
            except (TypeError, ValueError):
                value = 0
            if value <= 0:
                raise ConfigError(f"{env_name(f.name)}={raw!r}: give a {'whole ' if kind is int else ''}number "
                                  "above 0")
            values[f.name] = value
        return cls(**values)

    def budget(self) -> float:
        """Seconds one extract() call may take for one post (the extractor's ``timeout``): every clip's
        decode budget, plus a margin for the pipeline's own work."""
        return self.decode_seconds * self.max_clips + 5.0


def env_name(key: str) -> str:
    """The environment variable of a plugin setting: ``max_bytes`` -> ``MMSTREAM_PLUGIN_VIDEO_MAX_BYTES``."""
    return f"MMSTREAM_PLUGIN_VIDEO_{key.upper()}"


def over(reason: str, where: str, what: str, limit: Any, key: str, fix: str, stage: str = "validate") -> PostError:
    """The dead letter of a clip past a limit: what it has, the limit, and the fix (the setting named)."""
    return PostError(reason, f"{where} {what}, over the limit of {limit}; {fix}, or raise {env_name(key)}.", stage)
