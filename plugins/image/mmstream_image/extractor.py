"""The ``image`` extractor: image features for the fused model, and the text
in the images handed on as the derived modality ``image_text``."""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np
from PIL import Image

from mmstream import Extraction, Extractor
from mmstream.errors import ConfigError
from mmstream.settings import Settings
from mmstream_image.decode import ORIGINAL_SIZE, decode_images
from mmstream_image.encoder import ImageEncoder, normalise
from mmstream_image.ocr import ImageOcr, OcrResult


class ImageExtractor(Extractor):
    """Validates and decodes ``images``; extracts one feature vector per post
    (the mean of its images' EfficientNet-Lite0 features) and OCR text.

    Report per post: ``count``, ``sizes`` (``[width, height]`` as sent),
    ``ocr_text`` (lines top to bottom, ``\\n``-joined) and
    ``text_regions`` (regions found per image; 0 means recognition was
    skipped for that image).
    """

    name: ClassVar[str] = "image"
    modalities: ClassVar[tuple[str, ...]] = ("images",)
    dims: ClassVar[dict[str, int]] = {"images": 1280}

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.encoder: ImageEncoder | None = None
        self.ocr: ImageOcr | None = None

    def load(self) -> None:
        """Open the encoder and the OCR engines and run each once."""
        self.encoder = ImageEncoder()
        if self.encoder.dim != self.dims["images"]:
            raise ConfigError(f"encoder.onnx gives {self.encoder.dim}-d features, the plugin declares "
                             f"{self.dims['images']}; re-export it with mmstream.training.export_image")
        self.ocr = ImageOcr()
        self.encoder.warm_up()
        self.ocr.warm_up()

    def validate(self, modality: str, value: Any) -> list[Image.Image]:
        """Decode the post's images (see :func:`mmstream_image.decode.decode_images`)."""
        return decode_images(modality, value, self.settings)

    def extract(self, modality: str, values: Sequence[list[Image.Image]]) -> list[Extraction | Exception]:
        """Encode every image of the batch together, then pool and OCR per post."""
        encoder, ocr = self._models()
        features = encoder.encode([img for post in values for img in post])
        results: list[Extraction | Exception] = []
        offset = 0
        for post in values:
            rows = features[offset:offset + len(post)]
            offset += len(post)
            try:
                results.append(self._post(ocr, post, rows))
            except Exception as exc:  # noqa: BLE001 - this post fails, the batch goes on
                results.append(exc)
        return results

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Unit-norm features [n, 1280] of decoded images (training uses this)."""
        return self._models()[0].encode(list(images))

    def _models(self) -> tuple[ImageEncoder, ImageOcr]:
        if self.encoder is None or self.ocr is None:
            self.load()
        assert self.encoder is not None and self.ocr is not None
        return self.encoder, self.ocr

    @staticmethod
    def _post(ocr: ImageOcr, images: list[Image.Image], features: np.ndarray) -> Extraction:
        reads: list[OcrResult] = [ocr.read(img) for img in images]
        text = "\n".join(r.text for r in reads if r.text)
        report = {
            "count": len(images),
            "sizes": [list(img.info.get(ORIGINAL_SIZE, img.size)) for img in images],
            "ocr_text": text,
            "text_regions": [r.regions for r in reads],
        }
        pooled = normalise(features.mean(axis=0)).astype(np.float32)
        return Extraction(features=pooled, report=report, derived={"image_text": text} if text else {})
