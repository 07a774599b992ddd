"""The shipped text model as ONE ONNX graph, for the per-event peers and the
one-graph limit.

What an engineer who writes the obvious per-event app does with mmstream's
model: the two text encoders (general and sentiment-tuned, int8) and the fused
head joined into a single graph, ``input_ids``/``attention_mask`` in (and
``prefixed_input_ids``/``prefixed_attention_mask``, the text behind the prefix
an encoder was trained with, when one was: the English e5-small-v2's ``"query: "``),
``sentiment`` (and ``topics``) out, for the text-only view (a post with text
and nothing else: the image modalities masked out, exactly as the pipeline
masks them). Built at bench time from the shipped files, so it always matches
what the worker runs; :func:`check_one_graph` compares its outputs with the
pipeline's own: 5e-7 at most on 200 TweetEval tweets. (That needs the
encoders' sessions without ONNX Runtime's SkipLayerNormFusion, which their
configs ask for: in one graph the fusion does not apply, and with it the
separate sessions' probabilities differed by up to 0.045.)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mmstream.errors import ConfigError



def text_files(text_dir: Path | None = None) -> tuple[dict[str, Path], Path, Path]:
    """The text reader's files (its ``model_files()``: no plugin import, no modality named here):
    ({fused input: encoder file} for the post's own text through the two English encoders, the
    tokenizer, the encoders' config). ``text_dir``: the same file names in another folder."""
    from mmstream.plugin.extractors import text_reader
    from mmstream.training.extractors import TEXT_VIEWS, FeatureNames, plugin_extractors

    extractors = plugin_extractors()
    names = FeatureNames.of(extractors)
    reader = text_reader(extractors)
    assert reader is not None  # FeatureNames.of refused a set without one
    files = {k: Path(v) for k, v in reader.model_files().items()}
    if text_dir is not None:
        files = {k: Path(text_dir) / v.name for k, v in files.items()}
    views = {names.text(names.own, view): files[names.text(names.own, view)] for view in TEXT_VIEWS}
    return views, files["tokenizer"], files["config"]


def encoder_prefix(encoder: Path) -> str:
    """What the text plugin puts before a text for this encoder (its config's ``prefix``: ``sentiment.json``
    beside ``sentiment.onnx``), or nothing."""
    config = encoder.with_suffix(".json")
    return str(json.loads(config.read_text()).get("prefix", "")) if config.is_file() else ""


def graph_prefix(text_dir: Path | None = None) -> str:
    """The one prefix the graph's ``prefixed_*`` inputs take (``""``: the graph has none)."""
    prefixes = {encoder_prefix(f) for f in text_files(text_dir)[0].values()} - {""}
    if len(prefixes) > 1:
        raise ConfigError(f"the text encoders want different prefixes {sorted(prefixes)}; the one graph takes one")
    return prefixes.pop() if prefixes else ""


def build_one_graph(out: Path, fused_dir: str | Path, text_dir: Path | None = None) -> Path:
    """Write the one-graph text model to ``out`` (batch 1: the masks are constants)."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    text_views, _, _ = text_files(text_dir)
    fused_path = Path(fused_dir) / "model.onnx"
    fused = onnx.load(str(fused_path))
    fused_inputs = {i.name: i for i in fused.graph.input}
    nodes: list[Any] = []
    inits: list[Any] = []
    opsets: dict[str, int] = {}
    for view, filename in text_views.items():
        if view not in fused_inputs:
            raise ConfigError(f"{fused_path} has no {view!r} input; the one-graph peer needs the text views")
        enc = compose.add_prefix(onnx.load(str(filename)), prefix=f"{view}/")
        given = "prefixed_" if encoder_prefix(filename) else ""
        nodes += [helper.make_node("Identity", [given + name], [f"{view}/{name}"]) for name in ("input_ids", "attention_mask")]
        nodes += list(enc.graph.node)
        inits += list(enc.graph.initializer)
        nodes.append(helper.make_node("Identity", [enc.graph.output[0].name],
                                      [f"fused/{view}"]))
        for imp in enc.opset_import:
            opsets[imp.domain] = max(opsets.get(imp.domain, 0), imp.version)
    head = compose.add_prefix(fused, prefix="fused/")
    for name, tensor in fused_inputs.items():
        if name in text_views:
            continue
        dims = [d.dim_value or 1 for d in tensor.type.tensor_type.shape.dim]  # batch 1
        present = name.endswith("_mask") and name.removesuffix("_mask") in text_views
        inits.append(numpy_helper.from_array(np.full(dims, 1.0 if present else 0.0, np.float32), f"fused/{name}"))
    nodes += list(head.graph.node)
    inits += list(head.graph.initializer)
    for imp in head.opset_import:
        opsets[imp.domain] = max(opsets.get(imp.domain, 0), imp.version)
    outputs = []
    for o in fused.graph.output:
        nodes.append(helper.make_node("Identity", [f"fused/{o.name}"], [o.name]))
        outputs.append(helper.make_tensor_value_info(o.name, TensorProto.FLOAT, None))
    names = ["input_ids", "attention_mask"] + (["prefixed_input_ids", "prefixed_attention_mask"]
                                                if graph_prefix(text_dir) else [])
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "prefixed_sequence" if n.startswith("prefixed_") else "sequence"])
              for n in names]
    graph = helper.make_graph(nodes, "mmstream-text-one-graph", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    model.ir_version = max(fused.ir_version, 8)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


class OneGraph:
    """One session of the one-graph model, ``threads`` intra-op threads, and the text plugin's tokenizer."""

    def __init__(self, path: Path, threads: int = 1, text_dir: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        _, tokenizer, config_file = text_files(text_dir)
        config = json.loads(config_file.read_text())
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(config["max_length"]))
        self.prefix = graph_prefix(text_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def feed(self, text: str) -> dict[str, np.ndarray]:
        """The graph's inputs for one text: its tokens, and behind the prefix when the graph takes one."""
        out = {}
        for given, value in (("", text), ("prefixed_", self.prefix + text)) if self.prefix else (("", text),):
            ids = np.asarray([self.tokenizer.encode(value).ids], dtype=np.int64)
            out[given + "input_ids"], out[given + "attention_mask"] = ids, np.ones_like(ids)
        return out

    def probs(self, text: str) -> np.ndarray:
        return self.session.run(["sentiment"], self.feed(text))[0][0]


def check_one_graph(graph: OneGraph, texts: Sequence[str], settings: Any) -> dict:
    """Max abs difference of the one graph's probabilities against the pipeline's, and label
    agreement, over the texts the pipeline read as English (the one graph is the English text
    view; a text in another language takes the multilingual encoder there): ``texts`` counts
    those, ``other_language`` the rest."""
    from mmstream.pipeline.build import build_pipeline

    from mmstream.plugin.extractors import text_reader

    pipeline = build_pipeline(settings)
    key = text_reader(pipeline.extractors).modalities[0]  # the post key of its own text
    items = [(json.dumps({"id": f"c{i}", "created_at": 0, key: t}).encode(), None) for i, t in enumerate(texts)]
    outcomes = pipeline.complete(pipeline.prepare(items))
    diff, same, english = 0.0, 0, 0
    for text, outcome in zip(texts, outcomes, strict=True):
        result = json.loads(outcome.data)
        if result.get("lang", "en") != "en":
            continue
        english += 1
        ours = list(result["sentiment"]["probs"].values())
        mine = graph.probs(text)
        diff = max(diff, float(np.max(np.abs(np.asarray(ours) - mine))))
        same += int(np.argmax(mine)) == int(np.argmax(ours))
    return {"texts": english, "other_language": len(texts) - english, "max_abs_diff": round(diff, 7),
            "same_argmax": same}


def _limit_worker(path: str, texts: list[str], start: Any, out: Any) -> None:
    """One process of :func:`measure_one_graph_limit`: tokenise, wait for the others, run back to back."""
    import time

    graph = OneGraph(Path(path), threads=1)
    feeds = [graph.feed(text) for text in texts]
    graph.session.run(["sentiment"], feeds[0])  # warm
    start.wait()
    began = time.perf_counter()
    for feed in feeds:
        graph.session.run(["sentiment"], feed)
    out.put(time.perf_counter() - began)


def measure_one_graph_limit(path: Path, texts: Sequence[str], processes: int) -> dict:
    """The model's real ceiling for text posts: the one graph run back to back, no
    Kafka, ``processes`` processes at once with one ONNX thread each, the texts
    dealt out round robin; posts/s = all texts over the slowest process's time."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(processes), ctx.Queue()
    shares = [list(texts[i::processes]) for i in range(processes)]
    procs = [ctx.Process(target=_limit_worker, args=(str(path), share, start, out)) for share in shares]
    for p in procs:
        p.start()
    times = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return {"posts": len(texts), "processes": processes, "threads_each": 1,
            "posts_per_s": round(len(texts) / max(times), 1)}
