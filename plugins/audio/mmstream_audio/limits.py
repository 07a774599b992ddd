"""The audio plugin's limits and choices, from its plugin settings
(``MMSTREAM_PLUGIN_AUDIO_<KEY>`` environment variables, or
``Settings.load(plugin_options={"audio": {...}})``).

Every limit a post can break has a dead-letter reason whose detail names the
variable to change (:func:`env`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mmstream.plugin import ConfigError, Settings

PLUGIN = "audio"
#: the speech models the plugin can run (see mmstream_audio.speech)
MODELS = ("base", "tiny.en")
#: settings for which 0 means something (threads: CTranslate2's default; preload: off)
ZERO_OK = ("threads", "preload", "brand_prompt")


def env(key: str) -> str:
    """The environment variable of setting ``key``: ``MMSTREAM_PLUGIN_AUDIO_<KEY>``."""
    return f"MMSTREAM_PLUGIN_{PLUGIN.upper()}_{key.upper()}"


@dataclass(frozen=True)
class AudioLimits:
    #: bytes of one clip (as sent, base64-decoded or fetched)
    max_bytes: int = 20_000_000
    #: clips in one post's ``audio`` list
    max_clips: int = 4
    #: seconds of a clip that are decoded and transcribed; the rest is left out and the report says
    #: ``truncated: true`` (the post is not dead-lettered: the start of a long voice note is still speech).
    #: 2 minutes: Whisper base hears 10-20x real time on 2 cores (BENCHMARKS.md, "Speech")
    max_seconds: float = 120.0
    #: the sample rates a clip may declare (telephone 8 kHz to studio 192 kHz)
    min_sample_rate: int = 8_000
    max_sample_rate: int = 192_000
    #: channels a clip may declare
    max_channels: int = 8
    #: wall-clock seconds decoding one clip may take
    decode_seconds: float = 20.0
    #: wall-clock seconds transcribing one clip may take (checked between Whisper's 30 s windows)
    transcribe_seconds: float = 60.0
    #: seconds one extract() call (a micro-batch of posts) may take: the pipeline's budget for this plugin
    timeout: float = 300.0
    #: the Whisper model: "base" (multilingual, language id) or "tiny.en" (English only, faster)
    model: str = "base"
    #: the shortest encoder window, in seconds: a window with less sound (a short clip) is encoded as its sound
    #: and 2 s more, at least this long, not padded to Whisper's 30 s (30: always the full window). 15: with the
    #: brand prompt, sentiment through voice notes and videos came within 5 macro-recall points of the same tweets
    #: as text (-3.4 / -4.1; 10 s windows: -8.3 / -4.9; 30 s: -4.1 / -2.4) at about 2.4x the speed of 30 s
    #: (BENCHMARKS.md, "Speech", "Media eval")
    window_seconds: float = 15.0
    #: CTranslate2 threads (0: its default, one per core). 1: faster than 2 on the 2-core machine shared with
    #: other work (1.48x at load 1.5, 1.11x at load 5.3: BENCHMARKS.md, "Speech"), and it leaves a core to the
    #: rest of the worker, like MMSTREAM_ONNX_THREADS' half the CPUs
    threads: int = 1
    #: where the multilingual model's two halves are joined once (default ~/.cache/mmstream/whisper)
    cache_dir: str = ""
    #: 1: open Whisper at start-up; 0 (default): at the first audio post, so a worker that never hears a
    #: voice note never holds the model (start-up still checks the weights' checksum)
    preload: int = 0
    #: 1 (default): Whisper is primed with the configured brands' names (MMSTREAM_BRANDS_FILE; its
    #: ``initial_prompt``): base heard the brand in 31 of 33 spoken posts naming one, against 9 of 33 unprimed,
    #: with 1 false match in 67 posts naming none (MODEL_CARD.md, media section); 0: not primed
    brand_prompt: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> "AudioLimits":
        """The limits, each from its ``MMSTREAM_PLUGIN_AUDIO_<KEY>`` when set; ConfigError naming it when
        a value is not usable."""
        given = settings.plugin(PLUGIN)
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ConfigError(f"{', '.join(env(k) for k in unknown)}: no such audio setting; the settings are "
                              f"{', '.join(env(k) for k in known)}.")
        values: dict[str, Any] = {}
        for key, text in given.items():
            kind = type(getattr(cls, key))
            try:
                value = kind(text) if kind is str else kind(float(text)) if kind is int else float(text)
            except (TypeError, ValueError):
                raise ConfigError(f"{env(key)}={text!r}: give a number.") from None
            if kind is not str and (value < 0 or (value == 0 and key not in ZERO_OK)):
                raise ConfigError(f"{env(key)}={text!r}: give a positive number"
                                  f"{' or 0' if key in ZERO_OK else ''}.")
            values[key] = value
        limits = cls(**values)
        if limits.model not in MODELS:
            raise ConfigError(f"{env('model')}={limits.model!r}: choose one of {', '.join(MODELS)}.")
        if limits.min_sample_rate > limits.max_sample_rate:
            raise ConfigError(f"{env('min_sample_rate')} is above {env('max_sample_rate')}; swap them.")
        return limits
