"""mmstream built-in plugin ``video``: the clips of a post's ``videos`` key.

Each clip is probed (container, codecs, declared duration, resolution, frame and
stream counts within the limits of :mod:`mmstream_video.limits`), then up to
``keyframes`` I-frames spread over it are decoded and handed to the image plugin as
the derived modality ``video_frames`` (OCR, faces, photo features), and its sound
track, when it has one, to the audio plugin as the derived ``video_audio``.

Registered through the ``mmstream`` entry-point group, like any third-party plugin.
"""
from __future__ import annotations

from mmstream.plugin import Settings, hookimpl
from mmstream_video.extractor import VideoExtractor

__all__ = ["VideoExtractor", "register_extractors"]


@hookimpl
def register_extractors(settings: Settings) -> list[VideoExtractor]:
    """The plugin's one extractor, for the ``videos`` key of a post."""
    return [VideoExtractor(settings)]
