"""mmstream: real-time multimodal brand intelligence on Kafka."""
from mmstream.errors import MMStreamError, PostError
from mmstream.plugin.extractors import Extraction, Extractor
from mmstream.plugin.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "Extractor", "Extraction", "MMStreamError", "PostError", "__version__"]
