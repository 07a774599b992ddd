"""mmstream built-in plugin: text embeddings from an int8 all-MiniLM-L6-v2 ONNX encoder."""
from __future__ import annotations

from mmstream.plugin import Settings, hookimpl
from mmstream_text.extractor import TextExtractor

__all__ = ["TextExtractor", "register_extractors"]


@hookimpl
def register_extractors(settings: Settings) -> list[TextExtractor]:
    return [TextExtractor(settings)]
