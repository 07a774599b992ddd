"""mmstream built-in plugin ``image``: features of the images in a post
(EfficientNet-Lite0, ONNX), the text written in them (RapidOCR) and the
emotion of the faces in them (haar cascade + mini-Xception, ONNX).

Registered through the ``mmstream`` entry-point group, like any third-party
plugin.
"""
from __future__ import annotations

from mmstream.plugin import Settings, hookimpl
from mmstream_image.extractor import ImageExtractor

__all__ = ["ImageExtractor", "register_extractors"]


@hookimpl
def register_extractors(settings: Settings) -> list[ImageExtractor]:
    """The plugin's one extractor, for the ``images`` key of a post."""
    return [ImageExtractor(settings)]
