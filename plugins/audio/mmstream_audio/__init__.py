"""mmstream built-in plugin ``audio``: voice notes to text. Clips are decoded with PyAV,
voice activity found by silero VAD and the speech transcribed by Whisper (faster-whisper,
int8 on the CPU); the transcript goes on as the derived text view ``audio_text``.

Registered through the ``mmstream`` entry-point group, like any third-party plugin.
"""
from __future__ import annotations

from mmstream.plugin import Settings, hookimpl
from mmstream_audio.extractor import AudioExtractor

__all__ = ["AudioExtractor", "register_extractors"]


@hookimpl
def register_extractors(settings: Settings) -> list[AudioExtractor]:
    """The plugin's one extractor, for the ``audio`` key of a post."""
    return [AudioExtractor(settings)]
