"""What ``mmstream train``, the exporters and the benchmarks need from the plugins, read from the
extractors' declarations (``modalities``, ``text_views``, ``dims``, ``reads_text``, ``model_files()``)
instead of importing a plugin package or naming its modalities: a plugin that replaces the text or
image plugin, or renames their features, trains and exports the same way."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmstream.errors import ConfigError
from mmstream.plugin.extractors import Extractor, text_reader
from mmstream.settings import Settings

#: the text reader's English encoder views; a feature is ``<text view><suffix>``: "" and "_sentiment"
TEXT_VIEWS = ("general", "sentiment")


def _suffix(view: str) -> str:
    return "" if view == "general" else f"_{view}"


def plugin_extractors(settings: Settings | None = None) -> dict[str, Extractor]:
    """Every installed plugin's extractors by modality, built (their models not loaded)."""
    from mmstream.plugin.manager import get_plugin_manager, register_extractors

    settings = settings or Settings.load()
    return register_extractors(get_plugin_manager(settings), settings)


def model_file(extractors: dict[str, Extractor], role: str) -> Path:
    """The file of ``role`` in some extractor's ``model_files()``; ConfigError naming the role otherwise."""
    for extractor in {id(e): e for e in extractors.values()}.values():
        files = extractor.model_files()
        if role in files:
            return Path(files[role])
    raise ConfigError(f"no installed plugin declares a model file {role!r} (Extractor.model_files()); install "
                      "the plugin that makes it (the built-ins: pip install -e plugins/<name>)")


def image_extractor(extractors: dict[str, Extractor]) -> Extractor | None:
    """The extractor that encodes images (``embed_images``) into its one feature, or None."""
    return next((e for e in {id(e): e for e in extractors.values()}.values()
                 if callable(getattr(e, "embed_images", None)) and len(e.dims) == 1), None)


@dataclass(frozen=True)
class FeatureNames:
    """The features the trainer's own views fill, read from the extractors' declarations, never
    written here: ``own``, the post's own text (the first of the text reader's ``text_views``);
    ``derived``, the text read or heard in media that the reader also embeds (its first other ``dims``
    base: where a text view without an input of its own is folded in); ``media``, the reader's further
    ``dims`` bases (text heard in voice notes and videos, captions read in video frames: each an input
    of its own, text features standing in for them in training); ``image``, the one feature of the extractor that ``embed_images`` (the meme views). Each
    text feature comes in the reader's encoder views: ``<base>``, ``<base>_sentiment`` and, with the
    multilingual encoder, ``<base>_multilingual`` (its ``model_files()``)."""

    own: str
    derived: str | None
    image: str | None
    suffixes: tuple[str, ...]  # of the reader's encoder views: "", "_sentiment", "_multilingual"
    media: tuple[str, ...] = ()  # further derived text bases (``audio_text``, ``video_text`` ...)

    @classmethod
    def of(cls, extractors: dict[str, Extractor]) -> "FeatureNames":
        reader = text_reader(extractors)
        if reader is None or not reader.text_views:
            raise ConfigError("mmstream train needs a plugin that reads text (reads_text, with a text view): "
                              "install the text plugin (pip install -e plugins/text)")
        own = reader.text_views[0]
        suffixes = tuple(k[len(own):] for k in reader.model_files() if k == own or k.startswith(own + "_"))
        bases = [k for k in reader.dims if not any(s and k.endswith(s) for s in suffixes)]
        others = [b for b in bases if b != own]
        derived = others[0] if others else None
        imaging = image_extractor(extractors)
        return cls(own, derived, next(iter(imaging.dims)) if imaging else None, suffixes or ("",),
                   tuple(others[1:]))

    def text(self, base: str, view: str) -> str:
        """The feature of text ``base`` through encoder view ``view`` (``general``, ``sentiment`` ...)."""
        return base + _suffix(view)

    @property
    def built_in(self) -> tuple[str, ...]:
        """The features the trainer fills itself (text views, both English encoders; the image feature)."""
        return (*[self.text(b, v) for b in self.texts for v in TEXT_VIEWS], *([self.image] if self.image else []))

    @property
    def texts(self) -> tuple[str, ...]:
        """Every text base the reader embeds: the post's own, the derived one, the media ones."""
        return tuple(b for b in (self.own, self.derived, *self.media) if b)

    @property
    def multilingual(self) -> tuple[str, ...]:
        """multilingual-e5 features of non-English texts: heads of their own (mmstream.training.multilingual)."""
        return tuple(self.text(b, "multilingual") for b in self.texts)
