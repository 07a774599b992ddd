"""mmstream: real-time multimodal brand intelligence on Kafka."""
from mmstream.errors import MMStreamError, PostError
from mmstream.plugin.extractors import Extraction, Extractor
from mmstream.plugin.hookspecs import hookimpl
from mmstream.plugin.stages import Enricher, Sink

__version__ = "0.1.0"
__all__ = ["hookimpl", "Enricher", "Extractor", "Extraction", "MMStreamError", "PostError", "Sink", "__version__"]
