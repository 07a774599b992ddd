"""The ``audio`` extractor: voice notes to a transcript, handed on as the derived text view
``audio_text`` (the text plugin gives it sentiment, complaint, emotion, language; core matches brands
and topics in it); the sound of a post's videos (the derived ``video_audio``, handed on by the video
plugin) the same way, as ``video_audio_text``, apart from the post's own voice notes."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Sequence

from mmstream.plugin import (Extraction, Extractor, PostError, Settings, brand_names, check_media_list,
                             read_media)
from mmstream_audio.decode import Clip, check_bytes, decode, fail, probe
from mmstream_audio.limits import AudioLimits, env
from mmstream_audio.speech import Speech, Transcript, model_dir

STAGE = "extract:audio"
#: the derived modality the video plugin hands a post's video sound on as: never sent by a post
VIDEO_AUDIO = "video_audio"


class AudioExtractor(Extractor):
    """Reads a post's ``audio``: a list of ``{"b64": "<base64 of the file>"}`` or ``{"ref": "<location>"}``
    (a ``ref`` under one of ``MMSTREAM_MEDIA_STORES``, fetched at extraction), at most ``max_clips`` of them.
    Also reads ``video_audio``, the sound of a post's videos handed on by the video plugin (a list of
    Matroska files, one per clip with sound; the raw ``bytes`` of one file will do too), checked in
    :meth:`extract`: its report is ``modalities.video_audio`` and its transcript the text view
    ``video_audio_text``, so a post with a voice note and a video keeps both. A post never sends
    ``video_audio`` itself.

    Report per post (``modalities.audio``): ``count``; ``duration`` (seconds transcribed, all clips);
    ``transcript`` (the clips' words, one line a clip); ``segments`` (``{clip, start, end, text}``, seconds
    from the clip's start); ``language`` / ``language_prob`` (Whisper's language id of the clip with the most
    words; null when no words were heard); ``truncated`` (a clip was longer than ``max_seconds``: only its
    start was heard); ``clips``: per clip ``container``, ``codec``, ``sample_rate``, ``channels``,
    ``duration``, ``declared_duration``, ``truncated``, ``language``, ``language_prob``, ``transcript``
    (``modalities.video_audio`` alike, clip ``i`` the sound of ``videos[audio_from[i]]``). No features: the transcript reaches the fused model through the text plugin.
    """

    name: ClassVar[str] = "audio"
    modalities: ClassVar[tuple[str, ...]] = ("audio", VIDEO_AUDIO)
    dims: ClassVar[dict[str, int]] = {}
    lane: ClassVar[str] = "media"  # seconds a clip: read by the media lane
    media_types: ClassVar[dict[str, tuple[str, ...]]] = {"audio": ("audio/*",)}  # what eval --media finds
    text_views: ClassVar[tuple[str, ...]] = ("audio_text", f"{VIDEO_AUDIO}_text")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = AudioLimits.from_settings(settings)
        #: the pipeline's budget for one extract() call (MMSTREAM_PLUGIN_AUDIO_TIMEOUT)
        self.timeout = self.limits.timeout
        #: what Whisper is primed with: the configured brands' names ("" with none, or brand_prompt 0)
        names = brand_names(settings) if self.limits.brand_prompt else []
        self.prompt = ", ".join(names) + "." if names else ""
        self.speech: Speech | None = None
        self.weights: Path | None = None
        self._opening = threading.Lock()

    def load(self) -> None:
        """Find the weights (joined into the cache folder when needed) and check their checksum: a wrong
        install fails at start-up. Whisper itself opens here with ``preload`` set, else at the first clip
        (a worker that never hears a voice note never holds it: base took 4.7 s and 186 MB of RSS here)."""
        self.weights = model_dir(self.limits.model, self.limits.cache_dir)
        if self.limits.preload:
            self._speech()

    def validate(self, modality: str, value: Any) -> list[bytes | dict]:
        """Every entry's shape; an inline clip's bytes, its header checked (no samples decoded yet). A ``ref``
        entry is fetched when its post is extracted, one clip at a time (as the video plugin does): a batch
        being validated never holds every clip it names. A post that sends ``video_audio`` is refused: the
        video plugin makes it from ``videos`` (derived values skip this check)."""
        if modality == VIDEO_AUDIO:
            raise fail("unknown_modality", f"'{modality}' is made by the video plugin from a post's 'videos'; send "
                       "the clip under 'videos', or a voice note under 'audio'.")
        entries = check_media_list(modality, value, self.limits.max_clips, setting=env("max_clips"))
        clips: list[bytes | dict] = []
        for i, entry in enumerate(entries):
            where = f"{modality}[{i}]"
            if "ref" in entry:
                clips.append(entry)
                continue
            data = read_media(entry, self.settings, max_bytes=self.limits.max_bytes, where=where,
                              setting=env("max_bytes"))
            probe(where, data, self.limits)
            clips.append(data)
        return clips

    def extract(self, modality: str, values: Sequence[Any]) -> list[Extraction | Exception]:
        """Decode and transcribe each post's clips, one clip at a time (Whisper uses every core)."""
        results: list[Extraction | Exception] = []
        for value in values:
            try:
                results.append(self._post(modality, value))
            except PostError as exc:
                exc.stage = STAGE  # found while extracting, whatever check found it
                results.append(exc)
        return results

    def _post(self, modality: str, value: Any) -> Extraction:
        speech = self._speech()
        datas = [value] if isinstance(value, (bytes, bytearray, memoryview)) else value
        if not isinstance(datas, list) or not datas:
            raise fail("wrong_type", f"'{modality}' handed on by a plugin must be the bytes of an audio file or a "
                       f"non-empty list of them, got {type(value).__name__}; fix that plugin.")
        if len(datas) > self.limits.max_clips:
            raise fail("too_many_items", f"'{modality}' has {len(datas)} clips, more than the limit of "
                       f"{self.limits.max_clips}; send fewer, or raise {env('max_clips')}.")
        heard: list[tuple[Clip, Transcript]] = []
        for i, data in enumerate(datas):
            where = f"{modality}[{i}]" if len(datas) > 1 or not isinstance(value, (bytes, bytearray)) else modality
            if isinstance(data, dict):  # a ref entry, fetched now (read_media checks its shape again)
                data = read_media(data, self.settings, max_bytes=self.limits.max_bytes, where=where,
                                  setting=env("max_bytes"), stage=STAGE)
            clip = decode(where, check_bytes(where, data, self.limits), self.limits)
            heard.append((clip, speech.transcribe(where, clip.samples, seconds=self.limits.transcribe_seconds,
                                                      prompt=self.prompt)))
        return Extraction(features=None, report=report(heard), derived=derived(heard, f"{modality}_text"))

    def _speech(self) -> Speech:
        """Whisper, opened and run once on first use (one opening, whichever thread asks first)."""
        with self._opening:
            if self.speech is None:
                speech = Speech(self.limits, self.weights)
                speech.warm_up()
                self.speech = speech
        return self.speech


def report(heard: list[tuple[Clip, Transcript]]) -> dict[str, Any]:
    """The post's report from its clips and their transcripts (see :class:`AudioExtractor`)."""
    wordiest = max(heard, key=lambda h: len(h[1].text.split()))[1]
    spoke = bool(wordiest.text)
    return {
        "count": len(heard),
        "duration": round(sum(c.duration for c, _ in heard), 3),
        "language": wordiest.language if spoke else None,
        "language_prob": wordiest.language_prob if spoke else None,
        "transcript": "\n".join(t.text for _, t in heard if t.text),
        "segments": [{"clip": i, **s} for i, (_, t) in enumerate(heard) for s in t.segments],
        "truncated": any(c.truncated for c, _ in heard),
        "clips": [{**c.facts(), "language": t.language if t.text else None,
                   "language_prob": t.language_prob if t.text else None, "transcript": t.text} for c, t in heard],
    }


def derived(heard: list[tuple[Clip, Transcript]], view: str = "audio_text") -> dict[str, str]:
    """``{view: transcript}`` (``audio_text``, or ``video_audio_text`` for a video's sound), or nothing when
    no words were heard."""
    text = "\n".join(t.text for _, t in heard if t.text)
    return {view: text} if text else {}
