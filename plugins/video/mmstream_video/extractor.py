"""The ``video`` extractor: a post's ``videos`` probed in validate(), read in extract();
keyframes handed on to the image path (``video_frames``), the sound track to the audio
path (``audio``)."""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

from mmstream.plugin import Extraction, Extractor, PostError, Settings
from mmstream_video._media import check_media_list, read_media
from mmstream_video.keyframes import read_keyframes
from mmstream_video.limits import VideoLimits, env_name
from mmstream_video.probe import Clip, probe


class VideoExtractor(Extractor):
    """Validates ``videos`` (a list of ``{"b64": ...}`` / ``{"ref": ...}`` entries: see
    :func:`mmstream.plugin.read_media`): each clip's bytes, container, codecs and declared
    sizes, no frame decoded. Extracts up to ``keyframes`` I-frames per clip (``post_frames`` per
    post, shared out among its clips; a clip past the share is only checked) and
    hands them on as ``video_frames`` (a list of PIL images: OCR, faces and photo features
    come from the image plugin), and the raw bytes of the first clip with a sound track as
    ``audio`` (the transcript comes from the audio plugin). No features of its own.

    Report per post (``modalities.videos``): ``count``, ``frames_handed_on``, ``audio_from``
    (the index of the clip whose sound was handed on, or null) and per clip in ``clips``:
    ``container``, ``bytes``, ``duration`` (declared, seconds), ``streams``, ``video``
    ``{codec, width, height, fps}``, ``audio`` ``{codec, sample_rate, channels}`` or null,
    ``frames`` (video frames demuxed), ``keyframes`` (in the clip), ``keyframes_used``
    (seconds of the frames handed on) and ``end`` (seconds where its data ends).
    """

    name: ClassVar[str] = "video"
    modalities: ClassVar[tuple[str, ...]] = ("videos",)
    dims: ClassVar[dict[str, int]] = {}

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = VideoLimits.from_settings(settings)
        #: one post's worst case: every clip's decode budget (the pipeline retries a slow batch post by post)
        self.timeout = self.limits.budget()

    def validate(self, modality: str, value: Any) -> list[Clip]:
        """The post's clips, probed; PostError naming the clip, the limit and its setting."""
        limits = self.limits
        try:
            entries = check_media_list(modality, value, limits.max_clips)
        except PostError as exc:
            if exc.reason != "too_many_items":
                raise
            raise PostError(exc.reason, f"'{modality}' has {len(value)} clips, more than the limit of "
                            f"{limits.max_clips}; send fewer, or raise {env_name('max_clips')}.", exc.stage) from None
        clips = []
        for i, entry in enumerate(entries):
            where = f"{modality}[{i}]"
            try:
                data = read_media(entry, self.settings, max_bytes=limits.max_bytes, where=where)
            except PostError as exc:
                if exc.reason != "media_too_large":
                    raise
                raise PostError(exc.reason, f"{where} is over the limit of {limits.max_bytes} bytes a clip "
                                f"({exc.detail.rstrip('.')}); compress or shorten it, or raise "
                                f"{env_name('max_bytes')}.", exc.stage) from None
            clips.append(probe(where, data, limits))
        return clips

    def extract(self, modality: str, values: Sequence[list[Clip]]) -> list[Extraction | Exception]:
        results: list[Extraction | Exception] = []
        for clips in values:
            try:
                results.append(self._post(clips))
            except PostError as exc:
                results.append(exc)
        return results

    def _post(self, clips: list[Clip]) -> Extraction:
        reports, frames = [], []
        sound: int | None = None
        share = min(self.limits.keyframes, max(1, self.limits.post_frames // len(clips)))
        for i, clip in enumerate(clips):
            keys = read_keyframes(clip, self.limits, min(share, self.limits.post_frames - len(frames)))
            frames.extend(keys.images)
            reports.append({**clip.report(), "frames": keys.frames, "keyframes": keys.keyframes,
                            "keyframes_used": keys.times, "end": keys.end})
            if sound is None and clip.audio is not None:
                sound = i
        derived: dict[str, Any] = {"video_frames": frames}
        if sound is not None:
            derived["audio"] = clips[sound].data
        report = {"count": len(clips), "frames_handed_on": len(frames), "audio_from": sound, "clips": reports}
        return Extraction(features=None, report=report, derived=derived)
