"""The image plugin's limits on one post: its own settings, not core's.

``MMSTREAM_PLUGIN_IMAGE_MAX_IMAGES`` (4), ``_MAX_BYTES`` (5 MB an image), ``_MAX_PIXELS``
(40 MP an image, from the header, before any pixel is decoded) and ``_MAX_FRAMES`` (100 frames of an
animation), or ``Settings.load(plugin_options={"image": {"max_images": 2}})`` in code. They were core
settings (``MMSTREAM_MAX_IMAGES``, ``_MAX_IMAGE_BYTES``, ``_MAX_IMAGE_PIXELS``,
``_MAX_IMAGE_FRAMES``) while only this plugin read them; the old names still work, with a warning
naming the new one (:mod:`mmstream.settings`).
"""
from __future__ import annotations

from dataclasses import dataclass

from mmstream.plugin import ConfigError, Settings

#: the plugin's settings namespace (``settings.plugin(PLUGIN)``, ``MMSTREAM_PLUGIN_IMAGE_*``)
PLUGIN = "image"


def env_name(key: str) -> str:
    """The environment variable of one limit: ``max_bytes`` -> ``MMSTREAM_PLUGIN_IMAGE_MAX_BYTES``."""
    return f"MMSTREAM_PLUGIN_{PLUGIN.upper()}_{key.upper()}"


@dataclass(frozen=True)
class ImageLimits:
    """What one post may carry; every check's message names the variable to raise."""

    max_images: int = 4
    max_bytes: int = 5_000_000
    max_pixels: int = 40_000_000
    max_frames: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> "ImageLimits":
        """The limits in ``settings.plugin("image")``, the defaults for the rest; a value that is not a
        whole number of 1 or more is a :class:`ConfigError` naming its variable."""
        given = settings.plugin(PLUGIN)
        values = {}
        for key in cls.__dataclass_fields__:
            raw = given.get(key)
            if raw is None or raw == "":
                continue
            try:
                value = int(raw)
            except (TypeError, ValueError):
                value = 0
            if value < 1 or isinstance(raw, bool):
                raise ConfigError(f"{env_name(key)}={raw!r}: give a whole number of 1 or more")
            values[key] = value
        return cls(**values)
