"""The ``image`` extractor: image features for the fused model, the text
in the images handed on as the derived modality ``image_text``, and the
emotion of the faces in them; the same for the keyframes of a post's videos
(the derived modality ``video_frames``, see :mod:`mmstream_image.frames`)."""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
from PIL import Image

from mmstream.plugin import ConfigError, Extraction, Extractor, Settings, usable_cpus
from mmstream_image.decode import ORIGINAL_SIZE, decode_images
from mmstream_image import encoder as image_encoder, faces as face_model
from mmstream_image.encoder import ImageEncoder, normalise
from mmstream_image.faces import Face, FaceEmotion, mean_emotion
from mmstream_image.frames import FRAMES, FramePhoto, frames_extraction, photo_extraction, refuse_posted
from mmstream_image.limits import ImageLimits
from mmstream_image.ocr import ImageOcr, OcrResult
from mmstream_image.thumbnail import make_thumbnail


class ImageExtractor(Extractor):
    """Validates and decodes ``images``; extracts one feature vector per post
    (the mean of its images' EfficientNet-Lite0 features), OCR text and the
    emotion of the faces.

    Report per post: ``count``, ``sizes`` (``[width, height]`` as sent),
    ``ocr_text`` (lines top to bottom, ``\\n``-joined),
    ``text_regions`` (regions found per image; 0 means recognition was
    skipped for that image), ``faces`` (per image a list of
    ``{"box": [x, y, w, h], "emotion", "scores"}``, boxes in pixels as sent,
    largest first) and ``face_emotion`` (the emotion of the mean scores over
    all the post's faces; null without faces), ``thumbnail`` (a JPEG of at most 128 px a side
    and 12 KB of the first image, for the dashboard's feed: ``{"type", "width", "height", "of", "shows", "b64"}``;
    absent when ``MMSTREAM_FEED_THUMBNAILS=0`` or when none could be made, see
    :mod:`mmstream_image.thumbnail`). Should reading faces fail,
    that image's list is empty and ``faces_error`` says why; the post goes on.
    Faces are reported only: the feature vector, and so the fused model,
    does not use them (it was trained without faces, and no face-labelled
    sentiment data exists to train it with).

    ``video_frames`` (keyframes the video plugin decoded) get the same report, their
    text de-duplicated by line and handed on as ``video_text``, their ``thumbnail`` of the first keyframe
    that is not a blank fade, and their features
    handed on as the post's ``images`` feature when it has no images of its own.
    """

    name: ClassVar[str] = "image"
    modalities: ClassVar[tuple[str, ...]] = ("images", FRAMES)
    dims: ClassVar[dict[str, int]] = {"images": 1280}
    text_views: ClassVar[tuple[str, ...]] = ("image_text", "video_text")
    #: the text read in the images (OCR), handed on as ``derived["image_text"]``: the text path embeds it

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: what one post may carry (MMSTREAM_PLUGIN_IMAGE_MAX_IMAGES, _MAX_BYTES, _MAX_PIXELS, _MAX_FRAMES)
        self.limits = ImageLimits.from_settings(settings)
        #: a small thumbnail in each report, for the dashboard's feed (MMSTREAM_FEED_THUMBNAILS, default on)
        self.thumbnails = bool(getattr(settings, "feed_thumbnails", True))
        self.encoder: ImageEncoder | None = None
        self.ocr: ImageOcr | None = None
        self.faces: FaceEmotion | None = None
        # face reading (OpenCV's detector) runs beside the encoder and OCR: a post's latency is the longer of the two
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmstream-faces")
        #: images read by OCR at once (MMSTREAM_PLUGIN_IMAGE_OCR_THREADS; default one per CPU, at most 4)
        self.ocr_threads = ocr_threads(settings)
        self._readers = ThreadPoolExecutor(max_workers=self.ocr_threads, thread_name_prefix="mmstream-ocr")

    def load(self) -> None:
        """Open the encoder, the OCR engines and the face models and run each once."""
        self.encoder = ImageEncoder()
        if self.encoder.dim != self.dims["images"]:
            raise ConfigError(f"encoder.onnx gives {self.encoder.dim}-d features, the plugin declares "
                             f"{self.dims['images']}; re-export it with mmstream.training.export_image")
        self.ocr = ImageOcr()
        self.faces = FaceEmotion()
        self.encoder.warm_up()
        self.ocr.warm_up()
        self.faces.warm_up()

    def validate(self, modality: str, value: Any) -> list[Image.Image]:
        """Decode the post's images (see :func:`mmstream_image.decode.decode_images`). A post
        never sends ``video_frames`` itself (derived values skip this check)."""
        if modality == FRAMES:
            raise refuse_posted(modality)
        return decode_images(modality, value, self.limits)

    def extract(self, modality: str, values: Sequence[list[Image.Image]]) -> list[Extraction | Exception]:
        """Encode every image of the batch together, then pool per post. Meanwhile OCR
        reads the images, ``ocr_threads`` at a time (it is most of an image's cost,
        and one session run uses one core), and the faces are read in the side thread.
        A post's derived ``images`` (its keyframes' :class:`FramePhoto`) is already encoded."""
        if any(isinstance(v, FramePhoto) for v in values):
            rest = [v for v in values if not isinstance(v, FramePhoto)]
            read = iter(self.extract(modality, rest) if rest else [])
            return [photo_extraction(v) if isinstance(v, FramePhoto) else next(read) for v in values]
        encoder, ocr, faces = self._models()
        images = [img for post in values for img in post]
        faces_read = self._side.submit(read_faces, faces, images)
        reads: list[Future[OcrResult]] = [self._readers.submit(ocr.read, img) for img in images]
        try:
            features = encoder.encode(images)
        finally:
            found = faces_read.result()
        results: list[Extraction | Exception] = []
        offset = 0
        for post in values:
            rows, post_faces = features[offset:offset + len(post)], found[offset:offset + len(post)]
            post_reads = reads[offset:offset + len(post)]
            offset += len(post)
            try:
                results.append(self._post(modality, faces.labels, post, rows, post_faces,
                                          [r.result() for r in post_reads], self.thumbnails))
            except Exception as exc:  # noqa: BLE001 - this post fails, the batch goes on
                results.append(exc)
        return results

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Unit-norm features [n, 1280] of decoded images (training uses this)."""
        return self._models()[0].encode(list(images))

    def model_files(self) -> dict[str, Path]:
        """The image encoder (by its feature), the face model and its config (labels)."""
        return {**{feature: image_encoder.MODEL_PATH for feature in self.dims}, "faces": face_model.MODEL_PATH,
                "faces_config": face_model.MODEL_PATH.with_name(face_model.CONFIG_NAME)}

    @staticmethod
    def preprocess(image: Image.Image, *, resize: int, crop: int, mean: float, std: float) -> np.ndarray:
        """The encoder's input for one image (CHW float32) with this preprocessing: what
        ``mmstream.training.export_image`` feeds a re-exported encoder and its source alike."""
        return image_encoder.preprocess(image, resize=resize, crop=crop, mean=mean, std=std)

    def _models(self) -> tuple[ImageEncoder, ImageOcr, FaceEmotion]:
        if self.encoder is None or self.ocr is None or self.faces is None:
            self.load()
        assert self.encoder is not None and self.ocr is not None and self.faces is not None
        return self.encoder, self.ocr, self.faces

    @staticmethod
    def _post(modality: str, labels: list[str], images: list[Image.Image], features: np.ndarray,
              found: list[list[Face] | Exception], reads: list[OcrResult], thumbnails: bool = False) -> Extraction:
        errors = [f"{modality}[{i}]: {type(f).__name__}: {f}" for i, f in enumerate(found) if isinstance(f, Exception)]
        per_image = [[] if isinstance(f, Exception) else f for f in found]
        text = "\n".join(r.text for r in reads if r.text)
        report = {
            "count": len(images),
            "sizes": [list(img.info.get(ORIGINAL_SIZE, img.size)) for img in images],
            "ocr_text": text,
            "text_regions": [r.regions for r in reads],
            "faces": [[face.as_dict() for face in image_faces] for image_faces in per_image],
            "face_emotion": mean_emotion([face for image_faces in per_image for face in image_faces], labels),
        }
        if errors:
            report["faces_error"] = "; ".join(errors)
        thumbnail = make_thumbnail(images, keyframes=modality == FRAMES) if thumbnails else None
        if thumbnail is not None:
            report["thumbnail"] = thumbnail
        pooled = normalise(features.mean(axis=0)).astype(np.float32)
        if modality == FRAMES:
            return frames_extraction(report, [r.text for r in reads], pooled)
        return Extraction(features=pooled, report=report, derived={"image_text": text} if text else {})


def ocr_threads(settings: Settings) -> int:
    """OCR readers at once: the plugin's ``ocr_threads`` setting, else one per CPU this
    process may use, 1 to 4. One RapidOCR engine serves them all (its sessions are
    thread-safe). Measured on 2 cores, 40 memes and scenes: 55.0 ms an image read one
    at a time, 31.0 with 2 readers, the same text."""
    given = settings.plugin("image").get("ocr_threads")
    if given:
        try:
            value = int(given)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(f"MMSTREAM_PLUGIN_IMAGE_OCR_THREADS={given!r}: give a whole number of 1 or more")
        return value
    return max(1, min(4, usable_cpus()))


def read_faces(faces: FaceEmotion, images: Sequence[Image.Image]) -> list[list[Face] | Exception]:
    """Per image its faces, or the exception reading them raised (faces are a report
    extra: a failure there never fails the post, it is reported as ``faces_error``)."""
    out: list[list[Face] | Exception] = []
    for img in images:
        try:
            out.append(faces.read(img))
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    return out
