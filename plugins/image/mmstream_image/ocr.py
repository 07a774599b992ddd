"""Text read from images, with RapidOCR (PP-OCRv6 det + rec, bundled ONNX models).

Reading costs in proportion to the text there is: the detector runs first on
a small copy of the image (longer side ``DET_SIDE``) and is the whole cost
for an image without text. Only the regions it finds are cropped from the
full-resolution image and recognised, line by line.

Both models ship inside the ``rapidocr`` wheel; they are named by path, so
RapidOCR never tries to download anything.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mmstream.plugin import ConfigError, onnx_threads

#: longer side, in pixels, of the copy the text detector sees; text lower than
#: about 1/70 of the image's longer side is not found
DET_SIDE = 384
#: detected regions scoring below this are ignored (RapidOCR's default, 0.5,
#: lets grain and round shapes in photos through)
BOX_THRESH = 0.6
#: a region is a text line only if at least this wide relative to its height
#: (keeps two-letter words, drops blobs) and at most MAX_LINE_HEIGHT of the image high
MIN_ASPECT = 0.8
MAX_LINE_HEIGHT = 0.5
#: recognised text scoring below this is dropped
TEXT_SCORE = 0.6
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"

#: a region of an image: (left, top, right, bottom) in pixels
Box = tuple[int, int, int, int]


@dataclass
class OcrResult:
    """What was read from one image: ``lines`` in reading order, the number of
    text ``regions`` the detector found (0: recognition was skipped) and the
    milliseconds it all took."""

    lines: list[str]
    regions: int
    ms: float

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class ImageOcr:
    """Two RapidOCR engines over the bundled models, created once: a detector
    (det only, on a small copy) and a reader (rec only, on crops)."""

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        models = _bundled_models_dir()
        common = {
            "Global.use_cls": False,  # post images are upright; the 180-degree classifier would only add time
            "Global.log_level": "error",  # "no text found" is the normal answer for a photo, not a warning
            "EngineConfig.onnxruntime.intra_op_num_threads": onnx_threads(),
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self.detector = RapidOCR(params={
            **common,
            "Global.use_rec": False,
            "Det.model_path": str(models / DET_MODEL),
            "Det.limit_type": "max",
            "Det.limit_side_len": DET_SIDE,
            "Det.box_thresh": BOX_THRESH,
        })
        self.reader = RapidOCR(params={
            **common,
            "Global.use_det": False,
            "Rec.model_path": str(models / REC_MODEL),
        })

    def warm_up(self) -> None:
        """Load both ONNX sessions now rather than on the first post."""
        blank = Image.new("RGB", (DET_SIDE, DET_SIDE // 2), "white")
        self.detector(blank)
        self.reader(blank.crop((0, 0, 160, 48)))

    def read(self, img: Image.Image) -> OcrResult:
        """Detect text regions in ``img``; recognise them only when there are any."""
        start = time.perf_counter()
        boxes = text_lines(self.detector(img).boxes, img.size)
        lines: list[str] = []
        for row in reading_order(boxes):
            line = " ".join(w for w in (self._recognise(img, box) for box in row) if w)
            if line:
                lines.append(line)
        return OcrResult(lines, len(boxes), round((time.perf_counter() - start) * 1000, 1))

    def _recognise(self, img: Image.Image, box: Box) -> str:
        out = self.reader(img.crop(box))
        texts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        return " ".join(t.strip() for t, s in zip(texts, scores) if s >= TEXT_SCORE and t.strip())


def text_lines(quads: np.ndarray | None, size: tuple[int, int]) -> list[Box]:
    """The detected quadrilaterals (``[n, 4, 2]``) that look like text lines,
    as integer ``(left, top, right, bottom)`` boxes clipped to the image."""
    if quads is None:
        return []
    width, height = size
    lines = []
    for q in np.asarray(quads, dtype=np.float32):
        left, top = max(0, int(q[:, 0].min())), max(0, int(q[:, 1].min()))
        right, bottom = min(width, int(np.ceil(q[:, 0].max()))), min(height, int(np.ceil(q[:, 1].max())))
        w, h = right - left, bottom - top
        if h >= 2 and w >= MIN_ASPECT * h and h <= MAX_LINE_HEIGHT * height:
            lines.append((left, top, right, bottom))
    return lines


def reading_order(boxes: list[Box]) -> list[list[Box]]:
    """Group boxes into rows, top to bottom, each row left to right.

    A box joins the current row when its vertical centre lies within the
    row's vertical span.
    """
    rows: list[list[Box]] = []
    span = (0, -1)
    for box in sorted(boxes, key=lambda b: (b[1] + b[3]) / 2):
        centre = (box[1] + box[3]) / 2
        if rows and span[0] <= centre <= span[1]:
            rows[-1].append(box)
            span = (min(span[0], box[1]), max(span[1], box[3]))
        else:
            rows.append([box])
            span = (box[1], box[3])
    return [sorted(row) for row in rows]


def _bundled_models_dir() -> Path:
    import rapidocr

    models = Path(rapidocr.__file__).resolve().parent / "models"
    for name in (DET_MODEL, REC_MODEL):
        if not (models / name).is_file():
            raise ConfigError(f"the OCR model {models / name} is missing; reinstall rapidocr "
                              "(`pip install --force-reinstall 'rapidocr>=3.10,<4'`); its wheel bundles it")
    return models
