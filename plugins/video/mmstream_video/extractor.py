"""The ``video`` extractor: a post's ``videos`` probed in validate(), read in extract();
keyframes handed on to the image path (``video_frames``), the sound track to the audio
path (``video_audio``, apart from a voice note the post may carry under ``audio``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from mmstream.plugin import Extraction, Extractor, PostError, Settings, check_media_list, read_media
from mmstream_video.keyframes import STAGE, read_keyframes
from mmstream_video.limits import VideoLimits, env_name
from mmstream_video.probe import Clip, probe

#: the derived modality a clip's sound is handed on as (read by the audio plugin)
SOUND = "video_audio"


@dataclass(frozen=True)
class Ref:
    """A ``{"ref": ...}`` entry, fetched when the post is extracted."""

    where: str
    entry: dict


class VideoExtractor(Extractor):
    """Validates ``videos`` (a list of ``{"b64": ...}`` / ``{"ref": ...}`` entries: see
    :func:`mmstream.plugin.read_media`): each inline clip's bytes, container, codecs and declared
    sizes, no frame decoded (a ``ref`` clip gets the same checks when extracted, its dead letters
    at stage ``extract:video``). Extracts up to ``keyframes`` I-frames per clip (``post_frames`` per
    post, shared out among its clips; a clip past the share is only checked) and
    hands them on as ``video_frames`` (a list of PIL images: OCR, faces and photo features
    come from the image plugin), and the sound track of every clip that has one, a list of
    Matroska files (the stream copied, not re-encoded; the whole clip should copying fail), as
    ``video_audio`` (the audio plugin transcribes it: ``modalities.video_audio`` and the text view
    ``video_audio_text``, apart from the post's own ``audio``). No features of its own.

    Report per post (``modalities.videos``): ``count``, ``frames_handed_on``, ``audio_from``
    (the indices of the clips whose sound was handed on: ``video_audio[i]`` is ``videos[audio_from[i]]``)
    and per clip in ``clips``:
    ``container``, ``bytes``, ``duration`` (declared, seconds), ``streams``, ``video``
    ``{codec, width, height, fps}``, ``audio`` ``{codec, sample_rate, channels}`` or null,
    ``frames`` (video frames demuxed), ``keyframes`` (in the clip), ``keyframes_used``
    (seconds of the frames handed on) and ``end`` (seconds where its data ends).
    """

    name: ClassVar[str] = "video"
    modalities: ClassVar[tuple[str, ...]] = ("videos",)
    dims: ClassVar[dict[str, int]] = {}
    lane: ClassVar[str] = "media"  # seconds a clip: read by the media lane
    media_types: ClassVar[dict[str, tuple[str, ...]]] = {"videos": ("video/*",)}  # what eval --media finds

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = VideoLimits.from_settings(settings)
        #: one post's worst case: every clip's decode budget (the pipeline retries a slow batch post by post)
        self.timeout = self.limits.budget()

    def validate(self, modality: str, value: Any) -> list[Clip | Ref]:
        """The post's clips: each ``b64`` one decoded and probed (PostError naming the clip, the limit and
        its setting); each ``ref`` one only checked for its shape here, and fetched and probed in
        :meth:`extract`, one at a time. Validation runs for a whole micro-batch before extraction (and,
        in the worker, beside the previous batch's): fetched there, a batch's clips (5-50 MB each) would
        all be held at once."""
        entries = check_media_list(modality, value, self.limits.max_clips, setting=env_name("max_clips"))
        return [Ref(f"{modality}[{i}]", entry) if "ref" in entry else self._clip(f"{modality}[{i}]", entry)
                for i, entry in enumerate(entries)]

    def _clip(self, where: str, entry: dict, stage: str = "validate") -> Clip:
        data = read_media(entry, self.settings, max_bytes=self.limits.max_bytes, where=where,
                          setting=env_name("max_bytes"), stage=stage)
        try:
            return probe(where, data, self.limits)
        except PostError as exc:
            raise PostError(exc.reason, exc.detail, stage) from None

    def extract(self, modality: str, values: Sequence[list[Clip | Ref]]) -> list[Extraction | Exception]:
        results: list[Extraction | Exception] = []
        for clips in values:
            try:
                results.append(self._post(clips))
            except PostError as exc:
                results.append(exc)
        return results

    def _post(self, entries: list[Clip | Ref]) -> Extraction:
        reports, frames, sound = [], [], []
        share = min(self.limits.keyframes, max(1, self.limits.post_frames // len(entries)))
        for i, entry in enumerate(entries):
            clip = self._clip(entry.where, entry.entry, STAGE) if isinstance(entry, Ref) else entry
            keys = read_keyframes(clip, self.limits, min(share, self.limits.post_frames - len(frames)))
            frames.extend(keys.images)
            reports.append({**clip.report(), "frames": keys.frames, "keyframes": keys.keyframes,
                            "keyframes_used": keys.times, "end": keys.end})
            if clip.audio is not None:
                sound.append((i, keys.sound or clip.data))
        derived: dict[str, Any] = {"video_frames": frames} if frames else {}
        if sound:
            derived[SOUND] = [data for _, data in sound]
        report = {"count": len(entries), "frames_handed_on": len(frames), "audio_from": [i for i, _ in sound],
                  "clips": reports}
        return Extraction(features=None, report=report, derived=derived)
