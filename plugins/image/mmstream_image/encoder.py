"""The image encoder: EfficientNet-Lite0 pooled features through ONNX Runtime.

The model and its preprocessing come from ``model/encoder.onnx`` and
``model/config.json``, written by ``python -m mmstream.training.export_image``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from mmstream.plugin import OnnxModel

MODEL_PATH = Path(__file__).resolve().parent / "model" / "encoder.onnx"
#: images per ONNX run. 1: as fast per image as larger batches on 2 cores (5.7-6.8 ms
#: at 1, 6.0-6.4 at 4, 7.0-8.2 at 16, one thread) and the activation memory of one
#: call stays small (a worker's peak RSS after batches of 16 image posts: 393 MB
#: at 1, 461 MB at 4, 576 MB at 32); each image's features are independent of the batch
MAX_BATCH = 1


class ImageEncoder:
    """Turns RGB images into L2-normalised feature vectors (``dim`` long)."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        self.model = OnnxModel(path)
        cfg = self.model.config
        self.dim: int = int(cfg.get("dim", 1280))
        self.resize: int = int(cfg.get("resize", 256))
        self.crop: int = int(cfg.get("crop", 224))
        self.mean = float(cfg.get("mean", 127.0))
        self.std = float(cfg.get("std", 128.0))
        self.input: str = cfg.get("input", "images")
        self.output: str = cfg.get("output", "features")

    def preprocess(self, img: Image.Image) -> np.ndarray:
        """:func:`preprocess` with this model's settings."""
        return preprocess(img, resize=self.resize, crop=self.crop, mean=self.mean, std=self.std)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Features of ``images``: float32 ``[len(images), dim]``, each row unit-norm."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        for start in range(0, len(images), MAX_BATCH):
            batch = np.stack([self.preprocess(img) for img in images[start:start + MAX_BATCH]])
            chunks.append(self.model.run({self.input: batch}, [self.output])[self.output])
        return normalise(np.concatenate(chunks).astype(np.float32, copy=False))

    def warm_up(self) -> None:
        """Create the session and run it once, so the first post pays no start-up cost."""
        self.encode([Image.new("RGB", (self.crop, self.crop))])


def preprocess(img: Image.Image, *, resize: int, crop: int, mean: float, std: float) -> np.ndarray:
    """Shorter side to ``resize``, centre crop ``crop``, ``(x - mean) / std``: RGB, CHW float32."""
    w, h = img.size
    scale = resize / min(w, h)
    size = (max(crop, round(w * scale)), max(crop, round(h * scale)))
    img = img.convert("RGB").resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    arr = np.asarray(img.crop((left, top, left + crop, top + crop)), dtype=np.float32)
    return ((arr - np.float32(mean)) / np.float32(std)).transpose(2, 0, 1)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (an all-zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
