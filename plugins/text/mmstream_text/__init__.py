"""mmstream built-in plugin: text embeddings from int8 ONNX encoders (all-MiniLM-L6-v2; e5-small-v2 fine-tuned on
tweet sentiment; multilingual-e5-small for other languages)."""
from __future__ import annotations

from mmstream.plugin import Settings, hookimpl
from mmstream_text.extractor import TextExtractor

__all__ = ["TextExtractor", "register_extractors"]


@hookimpl
def register_extractors(settings: Settings) -> list[TextExtractor]:
    return [TextExtractor(settings)]
