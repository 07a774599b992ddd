"""The multilingual branch of the fused graph: the heads of
:class:`mmstream.training.multilingual.MultilingualHeads` written as ONNX nodes
that blend each English output with its multilingual counterpart (see that
module's docstring for the blend). Apart from the training code's heads so
that the graph writer (:mod:`mmstream.training.head`) and the trainer of the
heads (:mod:`mmstream.training.multilingual`) do not import each other.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mmstream.training.multilingual import MultilingualHeads
    from mmstream.training.tasks import TaskHead


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def add_to_graph(inputs: list, nodes: list, inits: list, outputs: list, ml: MultilingualHeads, *,
                 topic_threshold: float | None, task_thresholds: dict[str, float | None], dim: int = 384,
                 texts: tuple[str, ...] = ("", "")) -> None:
    """Blend the multilingual heads into the graph's outputs (see the module docstring).

    The English outputs already in ``nodes`` are renamed ``<name>_en``; new
    nodes compute ``<name>`` from them and from the multilingual heads. ``texts``: the post's own
    text input and the text read in media (their ``_multilingual`` and ``_sentiment`` views)."""
    from onnx import TensorProto, helper, numpy_helper

    for m in (f"{b}_multilingual" for b in texts):  # inputs of their own: the English MLP never sees them
        inputs.append(helper.make_tensor_value_info(m, TensorProto.FLOAT, ["batch", dim]))
        inputs.append(helper.make_tensor_value_info(f"{m}_mask", TensorProto.FLOAT, ["batch", 1]))
        nodes.append(helper.make_node("Mul", [m, f"{m}_mask"], [f"{m}_masked"]))
    names = {o.name for o in outputs}
    for node in nodes:
        for i, out in enumerate(node.output):
            if out in names:
                node.output[i] = f"{out}_en"

    def init(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def add(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    init("ml_one", np.ones((1, 1)))
    def total(names: list[str], out: str) -> str:  # Add for two inputs (the graphs before media texts), Sum else
        return add("Add" if len(names) == 2 else "Sum", names, out)

    ml_n = total([f"{b}_multilingual_mask" for b in texts], "ml_n")
    # text views the English heads read: the sentiment view is made for English-routed texts only (the
    # general MiniLM view comes with every text: mined topics and clustering need one space for all)
    en_n = total([f"{b}_sentiment_mask" for b in texts], "en_n")
    ml_sum = total([f"{b}_multilingual_masked" for b in texts], "ml_sum")
    x = add("Div", [ml_sum, add("Max", [ml_n, "ml_one"], "ml_n1")], "ml_mean")
    # the multilingual share: ml views / all text views (0 without text: the English graph's answer stands)
    w = add("Div", [ml_n, add("Max", [add("Add", [ml_n, en_n], "all_n"), "ml_one"], "all_n1")], "ml_w")
    w_en = add("Sub", ["ml_one", w], "en_w")

    def mlp(head: TaskHead, prefix: str) -> str:
        p = {k: init(f"{prefix}_{k}", v) for k, v in head.params.items()}
        h = add("Relu", [add("Add", [add("MatMul", [x, p["W1"]], f"{prefix}_zw"), p["b1"]], f"{prefix}_pre")], f"{prefix}_h")
        return add("Add", [add("MatMul", [h, p["W2"]], f"{prefix}_hw"), p["b2"]], f"{prefix}_logits")

    def blend(name: str, ml_probs: str) -> None:
        add("Add", [add("Mul", [f"{name}_en", w_en], f"{name}_en_part"), add("Mul", [ml_probs, w], f"{name}_ml_part")], name)

    if "sentiment" in names:
        blend("sentiment", add("Softmax", [mlp(ml.sentiment, "mls")], "sentiment_ml", axis=-1))
    if "topics" in names and ml.topics is not None:
        shift = (_logit(topic_threshold) - _logit(ml.topics.threshold)) if topic_threshold is not None else 0.0
        logits = add("Add", [add("MatMul", [x, init("mlt_W", ml.topics.W)], "mlt_zw"), init("mlt_b", ml.topics.b + shift)], "mlt_logits")
        blend("topics", add("Sigmoid", [logits], "topics_ml"))
    for task in ml.tasks:
        if task.name not in names:
            continue
        logits = mlp(task, f"ml_{task.name}")
        english = task_thresholds.get(task.name)
        if task.threshold is not None and english is not None:  # P(yes) >= english threshold <=> own P(yes) >= own threshold
            shift = np.zeros(len(task.labels), np.float32)
            shift[1] = _logit(english) - _logit(task.threshold)
            logits = add("Add", [logits, init(f"ml_{task.name}_shift", shift)], f"ml_{task.name}_shifted")
        blend(task.name, add("Softmax", [logits], f"{task.name}_ml", axis=-1))
