"""The extractor protocol every modality plugin implements.

An extractor turns the values of one modality, for a micro-batch of posts,
into feature vectors for the fused model plus a JSON report that appears in
the result under ``modalities.<name>``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from mmstream.errors import PostError


@dataclass
class Extraction:
    """What an extractor returns for one post's value of one modality.

    ``features``: a 1-D float32 vector (``extractor.dims[modality]`` long) fed
    to the fused model under the modality's name; or a dict of such vectors by
    feature name (each name declared in ``extractor.dims``), when one value
    yields several views; or None when there is nothing to feed (the model then
    sees the modality as absent).
    ``report``: JSON-able facts for the result (``modalities.<modality>``).
    ``derived``: new modality values to extract in a second round, for example
    ``{"image_text": "text read from the image"}``.
    """

    features: np.ndarray | dict[str, np.ndarray] | None = None
    report: dict[str, Any] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)


class Extractor:
    """Base class for extractors. Subclasses set the class attributes and
    implement :meth:`extract`; :meth:`validate` and :meth:`load` are optional.
    """

    #: plugin name used in dead-letter stages (``extract:<name>``) and listings
    name: ClassVar[str] = "extractor"
    #: post keys this extractor handles
    modalities: ClassVar[tuple[str, ...]] = ()
    #: length of each feature vector by feature name (a modality, or another
    #: name for a modality's extra view); empty when it only reports
    dims: ClassVar[dict[str, int]] = {}
    #: modalities whose values are text: the ones this extractor hands on in ``Extraction.derived``
    #: (the image plugin: ``("image_text",)``, the audio plugin: ``("audio_text",)``) or reads as the
    #: post's own (the text plugin: ``("text",)``). mmstream reads the union of every extractor's
    #: text views for a post's language, brand matching, topics and text tasks; a view no extractor
    #: lists in ``modalities`` goes to the extractor that ``reads_text``.
    text_views: ClassVar[tuple[str, ...]] = ()
    #: True for the one extractor that embeds any text view (the built-in text plugin): every declared
    #: text view without an extractor of its own is routed to it, its features named after the view
    reads_text: ClassVar[bool] = False
    #: seconds one ``extract()`` call may take (None: ``MMSTREAM_PLUGIN_TIMEOUT``); a heavy modality
    #: (speech, video) sets its own, from its plugin settings
    timeout: float | None = None
    #: the extractor's cost class: ``"text"`` (milliseconds a post: the default) or ``"media"`` (seconds a
    #: post: speech, video, long documents). A post carrying a value of a media-lane modality is routed to
    #: the media topic and read by the media lane (``mmstream worker --lanes media``), so a slow clip never
    #: holds up a tweet (docs/architecture.md, "Lanes")
    lane: ClassVar[str] = "text"
    #: per post key, the media types its entries carry (MIME patterns: ``{"clips": ("video/*",)}``): how a
    #: tool that writes posts of a kind of file (``mmstream eval --media``'s voice notes and clips) finds the
    #: key to put them under, without naming a plugin's modality
    media_types: ClassVar[dict[str, tuple[str, ...]]] = {}

    def load(self) -> None:
        """Load models. Called once at startup, before the first event (in a ``--lanes text`` worker, unless
        ``reads_text``: before the extractor's first ``validate`` or ``extract``, mmstream/lanes/opening.py)."""

    def validate(self, modality: str, value: Any) -> Any:
        """Check (cheaply) and normalise one raw value; raise :class:`PostError`
        with stage ``validate`` when it is unusable. Returns the value to extract."""
        return value

    def extract(self, modality: str, values: Sequence[Any]) -> list[Extraction | Exception]:
        """Extract a micro-batch of values of one modality.

        Returns one entry per value, in order: an :class:`Extraction`, or an
        exception for a value that failed (the others still succeed).
        """
        raise NotImplementedError

    def training_features(self, feature: str, texts: Sequence[str]) -> np.ndarray | None:
        """Features ``feature`` would have for posts made of these texts, for
        ``mmstream train`` (its labelled data is text). A float32 ``[len(texts),
        dims[feature]]`` array, a row of NaN where the feature would be absent;
        None (the default) leaves the feature out of the fused model. The
        built-in plugins' features are handled by the trainer itself."""
        return None

    def model_files(self) -> dict[str, Path]:
        """The files this extractor's models load, by the feature each makes (``"text_sentiment"``) or
        another role (``"tokenizer"``, ``"faces"``): how ``mmstream train``, the exporters that rewrite
        them (``mmstream.training.export_*``) and the benchmarks reach a plugin's models without
        importing the plugin. Callable before :meth:`load`; ``{}`` (the default): none to share."""
        return {}


#: the cost classes an extractor may declare in ``Extractor.lane``
LANES = ("text", "media")


def in_media_lane(extractor: "Extractor", also: "frozenset[str] | set[str]" = frozenset()) -> bool:
    """Whether ``extractor`` is read by the media lane: it declares ``lane = "media"``, or its plugin is named in
    ``also`` (``MMSTREAM_MEDIA_PLUGINS``: an operator's choice, e.g. ``image``). ConfigError for an unknown lane."""
    from mmstream.errors import ConfigError

    lane = getattr(extractor, "lane", "text")
    if lane not in LANES:
        raise ConfigError(f"extractor {extractor.name!r} declares lane={lane!r}, not one of {', '.join(LANES)}; "
                          "fix the plugin")
    return lane == "media" or extractor.name in also


def media_modalities(extractors: "dict[str, Extractor]", also: "frozenset[str] | set[str]" = frozenset()) \
        -> frozenset[str]:
    """The post keys read by the media lane (:func:`in_media_lane`)."""
    return frozenset(m for m, e in extractors.items() if in_media_lane(e, also) and m in e.modalities)


def text_views(extractors: "dict[str, Extractor]") -> tuple[str, ...]:
    """Every text view the extractors declare, the text reader's own first (a post's own text), then the
    others in the order their plugins registered: the order a post's language and brands are read in."""
    unique = list({id(e): e for e in extractors.values()}.values())
    ordered = [e for e in unique if e.reads_text] + [e for e in unique if not e.reads_text]
    return tuple(dict.fromkeys(view for e in ordered for view in e.text_views))


def text_reader(extractors: "dict[str, Extractor]") -> "Extractor | None":
    """The extractor that ``reads_text`` (embeds every text view; the built-in text plugin), or None."""
    return next((e for e in extractors.values() if e.reads_text), None)


def check_value_type(modality: str, value: Any, expected: type | tuple[type, ...], what: str) -> None:
    """Raise a ``wrong_type`` PostError unless ``value`` is of ``expected`` type."""
    if not isinstance(value, expected) or isinstance(value, bool):
        raise PostError(
            "wrong_type",
            f"'{modality}' must be {what}, got {type(value).__name__}; fix the producer.",
            "validate",
        )


def check_text(modality: str, value: Any, max_chars: int | None = None, *, allow_empty: bool = False) -> str:
    """``value`` when it is usable text: a string (``wrong_type``), not blank unless
    ``allow_empty`` (``empty_value``), valid Unicode (``invalid_unicode``), at most
    ``max_chars`` characters (``too_long``); else the PostError a dead letter carries."""
    from mmstream.pipeline.post import check_unicode

    check_value_type(modality, value, str, "a string")
    if not allow_empty and not value.strip():
        raise PostError("empty_value", f"'{modality}' is blank; send text or leave the key out.", "validate")
    if max_chars is not None and len(value) > max_chars:
        raise PostError("too_long", f"'{modality}' has {len(value)} characters, more than {max_chars}; shorten it "
                        "or raise the plugin's limit.", "validate")
    return check_unicode(modality, value)


def key_for_media(extractors: "dict[str, Extractor]", media_type: str) -> str | None:
    """The post key whose extractor declares ``media_type`` (``"audio/*"``) in ``media_types``, or None."""
    for extractor in {id(e): e for e in extractors.values()}.values():
        for key, types in extractor.media_types.items():
            if media_type in types and key in extractor.modalities:
                return key
    return None
