"""Figure 3's peer: what most Faust + transformers tutorials show. A Faust
agent takes one post at a time, runs the model inline in the agent, and
awaits the send of its result, with

* the same text encoders in PyTorch fp32: the hand-built BERT of
  :mod:`mmstream.training.export_text`, with the weights the int8 ONNX
  encoders were exported from (pretrained for ``<modality>``, the fine-tuned
  state dict for ``<modality>_sentiment``), no padding, ``inference_mode``;
* the same fused head in PyTorch fp32: the fused ``model.onnx`` graph executed
  node by node with torch ops on its initializers (:class:`TorchHead`);
* images through the same image path (the ``image`` plugin's decoding,
  EfficientNet-Lite0 and OCR), one post at a time; the OCR text goes through
  the torch encoders as ``image_text``;
* torch's intra-op threads set like mmstream's ONNX sessions (half the cores:
  on 2 cores torch's default of 2 collapses as soon as Faust, the broker or
  anything else runs: 32 ms per tweet against 10 ms with 1 thread, measured
  under load), so the comparison is about the architecture, not a setting.

Only the features the fused model reads are computed. Run as a worker
process: ``python -m mmstream.bench.peer`` (settings from ``MMSTREAM_*``
variables, like ``mmstream worker``). The only module of mmstream's runtime
that imports torch; it needs ``pip install -e '.[train]'``. At start-up it
writes a check to ``MMSTREAM_BENCH_PEER_INFO`` (a JSON file): the mean cosine
between its fp32 embeddings and the text plugin's int8 ones, per encoder.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import faust
import numpy as np
import torch

from mmstream.errors import ConfigError
from mmstream.inference.fused import FusedModel, Prediction
from mmstream.settings import Settings

WEIGHTS_ENV = "MMSTREAM_BENCH_PEER_WEIGHTS"
INFO_ENV = "MMSTREAM_BENCH_PEER_INFO"
#: where ``mmstream train --finetune-epochs N`` leaves the fine-tuned encoder (under ``--cache``)
DEFAULT_WEIGHTS = Path(".cache") / "finetune" / "encoder_best.pt"
MODEL_NAME = "peer-torch-fp32"
SUFFIX = "_sentiment"
CHECK_TEXTS = ("I love this airline, the crew was wonderful", "Worst flight of my life, never again",
               "Flight 88 boards at gate 12", "not sure how I feel about the new phone tbh")
_BINARY: dict[str, Callable[..., torch.Tensor]] = {
    "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div, "MatMul": torch.matmul,
    "Max": torch.maximum, "Min": torch.minimum,
}
_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Exp": torch.exp, "Identity": lambda x: x,
}


class TorchHead:
    """An ONNX graph of elementwise ops, MatMul, Gemm, Sum, Concat and Softmax, run with torch fp32 ops."""

    def __init__(self, path: Path) -> None:
        import onnx
        from onnx import helper, numpy_helper

        graph = onnx.load(str(path)).graph
        self.params = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
        self.nodes = [(n.op_type, list(n.input), list(n.output),
                       {a.name: helper.get_attribute_value(a) for a in n.attribute}) for n in graph.node]
        self.outputs = [o.name for o in graph.output]
        for op, *_ in self.nodes:
            if op not in _BINARY and op not in _UNARY and op not in ("Concat", "Softmax", "Gemm", "Sum"):
                raise ConfigError(f"the peer's torch head cannot run ONNX op {op!r} of {path}; add it to TorchHead")

    def __call__(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        env = {**self.params, **inputs}
        for op, ins, outs, attrs in self.nodes:
            args = [env[name] for name in ins]
            if op in _BINARY:
                out = _BINARY[op](*args)
            elif op in _UNARY:
                out = _UNARY[op](*args)
            elif op == "Concat":
                out = torch.cat(args, dim=int(attrs["axis"]))
            elif op == "Sum":  # the text inputs' branches (three or more), broadcast like Add
                out = args[0]
                for arg in args[1:]:
                    out = out + arg
            elif op == "Softmax":
                out = torch.softmax(args[0], dim=int(attrs.get("axis", -1)))
            else:  # Gemm
                a = args[0].T if attrs.get("transA") else args[0]
                b = args[1].T if attrs.get("transB") else args[1]
                out = float(attrs.get("alpha", 1.0)) * (a @ b)
                if len(args) > 2:
                    out = out + float(attrs.get("beta", 1.0)) * args[2]
            env[outs[0]] = out
        return {name: env[name] for name in self.outputs}


def fine_tuned_weights(explicit: str | None) -> Path | None:
    """The fine-tuned state dict: ``explicit``, else ``.cache/finetune/encoder_best.pt`` here or in the checkout."""
    if explicit:
        return Path(explicit)
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / DEFAULT_WEIGHTS).is_file():
            return base / DEFAULT_WEIGHTS
    return None


class PeerScorer:
    """Scores one raw post (JSON bytes) at a time, in torch fp32."""

    def __init__(self, settings: Settings, weights: str | None = None) -> None:
        from tokenizers import Tokenizer

        from mmstream.inference.onnx import onnx_threads
        from mmstream.plugin.extractors import text_reader
        from mmstream.training.export_text import MAX_LENGTH, load_e5_english, load_encoder, source_dir
        from mmstream.training.extractors import FeatureNames, image_extractor, plugin_extractors

        self.settings = settings
        # the plugins' extractors, never their packages: which feature is the post's text, the text read from
        # images, the image features, and the post keys they come from, as the extractors declare them
        extractors = plugin_extractors(settings)
        self.names = FeatureNames.of(extractors)
        self.reader = text_reader(extractors)
        assert self.reader is not None  # FeatureNames.of refused a set without one
        torch.set_num_threads(onnx_threads())
        fused = FusedModel(settings.model_dir)
        self.modalities = fused.modalities
        self.head = TorchHead(fused.onnx.path)
        self.tokenizer = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_LENGTH)
        self.encoders: dict[str, torch.nn.Module] = {}
        self.prefixes: dict[str, str] = {}  # what the text plugin puts before a text for that encoder
        if any(not m.endswith(SUFFIX) and m != self.names.image for m in self.modalities):
            self.encoders["general"] = load_encoder(source_dir()).eval()
        self.weights = fine_tuned_weights(weights)
        if any(m.endswith(SUFFIX) for m in self.modalities):
            if self.weights is None or not self.weights.is_file():
                raise ConfigError(f"the fused model reads fine-tuned text features but the peer found no fine-tuned "
                                  f"state dict ({self.weights or DEFAULT_WEIGHTS}); pass --peer-weights")
            from mmstream.bench.onegraph import encoder_prefix
            from mmstream.training.e5_english import sentiment_encoder_kind

            encoder_file = self.reader.model_files()[self.names.text(self.names.own, "sentiment")]
            e5 = sentiment_encoder_kind(encoder_file.parent) == "e5-en"
            tuned = load_e5_english() if e5 else load_encoder(source_dir())
            tuned.load_state_dict(torch.load(self.weights, map_location="cpu", weights_only=True))
            self.encoders["sentiment"] = tuned.eval()
            self.prefixes["sentiment"] = encoder_prefix(encoder_file)  # as its sentiment.json tells the text plugin
        self.images = image_extractor(extractors) if self.names.image in self.modalities else None
        if self.images is not None:
            self.images.load()

    @torch.inference_mode()
    def embed(self, text: str, view: str) -> torch.Tensor:
        """The unit-norm 384-d embedding of one text by the ``general`` or ``sentiment`` encoder."""
        ids = torch.tensor([self.tokenizer.encode(self.prefixes.get(view, "") + text).ids], dtype=torch.int64)
        return self.encoders[view](ids, torch.ones_like(ids))[0]

    @torch.inference_mode()
    def score(self, raw: bytes) -> tuple[bytes, bytes]:
        """One post in, ``(key, result JSON)`` out."""
        names = self.names
        post: dict[str, Any] = json.loads(raw)
        texts = {names.own: post.get(self.reader.modalities[0]) or None}
        inputs: dict[str, torch.Tensor] = {}
        key = self.images.modalities[0] if self.images is not None else None  # the post key of the images
        if key is not None and post.get(key) and names.image:
            extraction = self.images.extract(key, [self.images.validate(key, post[key])])[0]
            if isinstance(extraction, Exception):
                raise extraction
            inputs[names.image] = torch.from_numpy(extraction.features)
            if names.derived:
                texts[names.derived] = extraction.derived.get(names.derived) or None
        for modality in self.modalities:
            base = modality.removesuffix(SUFFIX)
            if modality != names.image and texts.get(base):
                inputs[modality] = self.embed(texts[base], "sentiment" if modality.endswith(SUFFIX) else "general")
        feeds: dict[str, torch.Tensor] = {}
        for modality, dim in self.modalities.items():
            present = modality in inputs
            feeds[modality] = (inputs[modality] if present else torch.zeros(dim)).reshape(1, dim)
            feeds[f"{modality}_mask"] = torch.full((1, 1), float(present))
        probs = self.head(feeds)["sentiment"][0].numpy()
        record = {"id": post["id"], "created_at": post.get("created_at"),
                  "sentiment": Prediction(probs).sentiment(), "model": MODEL_NAME}
        return str(post["id"]).encode(), json.dumps(record, separators=(",", ":")).encode()

    def check(self) -> dict:
        """Mean cosine of each torch encoder's fp32 embeddings vs the text plugin's int8 ones."""
        plugin = self.reader
        plugin.load()
        out: dict[str, Any] = {"weights": str(self.weights) if "sentiment" in self.encoders else None,
                               "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                               "modalities": list(self.modalities)}
        for view in self.encoders:
            ours = torch.stack([self.embed(t, view) for t in CHECK_TEXTS]).numpy()
            try:
                theirs = plugin.embed_texts(list(CHECK_TEXTS), view=view)
            except TypeError:  # a text plugin with one encoder
                theirs = plugin.embed_texts(list(CHECK_TEXTS))
            out[f"cosine_{view}_vs_plugin_int8"] = round(float(np.mean(np.sum(ours * theirs, axis=1))), 4)
        return out


def create_peer_app(settings: Settings, scorer: PeerScorer) -> faust.App:
    """A Faust app with one agent scoring every post as it comes, one at a time."""
    from mmstream.bench.perevent import create_faust_app

    return create_faust_app(settings, scorer)


def main() -> int:
    settings = Settings.load()
    scorer = PeerScorer(settings, settings.bench_peer_weights or None)
    info_path = os.environ.get(INFO_ENV)
    if info_path:
        Path(info_path).write_text(json.dumps(scorer.check()))
    app = create_peer_app(settings, scorer)
    logging.getLogger("faust").setLevel("WARNING")
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
