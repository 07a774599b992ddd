"""A trained fused model's heads, read back to be written into a new graph unchanged: its multilingual
heads (``mmstream train --multilingual-from DIR``), or all of them (``mmstream train --from DIR``). Apart
from :mod:`mmstream.training.multilingual_graph`, which :mod:`mmstream.training.head` imports: these heads'
types import the head module."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmstream.training.head import Head, HeadSpec, TopicHead
from mmstream.training.multilingual import MultilingualHeads
from mmstream.training.multilingual_graph import _logit
from mmstream.training.tasks import TaskHead


def heads_from_model(model_dir) -> MultilingualHeads:
    """The multilingual heads of a trained fused model (its ``model.onnx`` and ``config.json``), to write into a
    new graph unchanged (``TrainConfig.multilingual_from``: they read only the multilingual-e5 features, so a
    retrain of the English heads need not embed their ~46k texts again). Each threshold shift the old graph
    baked in is folded back into the head's bias against a threshold of 0.5, so :func:`add_to_graph` with the
    new English thresholds gives the same decisions at the multilingual heads' own thresholds."""
    import json
    from pathlib import Path

    import onnx
    from onnx import numpy_helper

    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text())
    w = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(folder / "model.onnx")).graph.initializer}

    def params(prefix: str) -> dict[str, np.ndarray]:
        return {k: w[f"{prefix}_{k}"].astype(np.float32) for k in ("W1", "b1", "W2", "b2")}

    sentiment = TaskHead("sentiment", list(config["labels"]), params("mls"))
    topics = None
    if "mlt_W" in w and config.get("topic_threshold") is not None:
        topics = TopicHead(list(config["topic_labels"]), w["mlt_W"], w["mlt_b"] - _logit(config["topic_threshold"]),
                           threshold=0.5)
    tasks = []
    for name, task in config.get("tasks", {}).items():
        if f"ml_{name}_W1" not in w:
            continue
        p = params(f"ml_{name}")
        threshold = None
        if f"ml_{name}_shift" in w and task.get("threshold") is not None:
            p["b2"] = p["b2"] + w[f"ml_{name}_shift"] - np.array([0.0, _logit(task["threshold"])], np.float32)
            threshold = 0.5
        tasks.append(TaskHead(name, list(task["labels"]), p, threshold=threshold))
    metrics = {**config.get("metrics", {}).get("multilingual", {}), "reused_from": config.get("version")}
    return MultilingualHeads(sentiment, topics, tasks, metrics)


@dataclass
class TrainedModel:
    """A trained fused model's English heads read back from its graph (``mmstream train --from DIR``), with its
    multilingual heads and its config."""

    head: Head
    topics: TopicHead | None
    tasks: list[TaskHead]
    multilingual: MultilingualHeads | None
    config: dict


def fused_from_model(model_dir, multilingual: tuple[str, ...]) -> TrainedModel:
    """Every head of the fused model in ``model_dir`` as written (``W1``...: the sentiment head, its decision
    offsets baked into ``b2``; ``Wt``/``bt`` and the config's threshold: topics; ``<task>_*``: the text-task
    heads with their thresholds), to write into a graph with more inputs: the new inputs' rows of ``W1`` are
    the trainer's to add (:func:`mmstream.training.train.widen`). ``multilingual``: the config's modalities
    that are the multilingual heads' inputs, not the sentiment head's."""
    import json
    from pathlib import Path

    import onnx
    from onnx import numpy_helper

    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text())
    w = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in onnx.load(str(folder / "model.onnx")).graph.initializer}
    spec = HeadSpec({m: d for m, d in config["modalities"].items() if m not in multilingual},
                    hidden=int(w["W1"].shape[1]), n_classes=int(w["W2"].shape[1]))
    if w["W1"].shape[0] != spec.n_inputs:
        raise ValueError(f"{folder}: W1 has {w['W1'].shape[0]} rows, its config's modalities make {spec.n_inputs}")
    head = Head(spec, {k: w[k] for k in ("W1", "b1", "W2", "b2")})
    topics = None
    if "Wt" in w and config.get("topic_threshold") is not None:
        topics = TopicHead(list(config["topic_labels"]), w["Wt"], w["bt"], threshold=float(config["topic_threshold"]))
    tasks = []
    for name, task in config.get("tasks", {}).items():
        if f"{name}_W1" not in w:
            continue
        scale = float(w[f"{name}_hscale"]) if f"{name}_hscale" in w else None
        tasks.append(TaskHead(name, list(task["labels"]), {k: w[f"{name}_{k}"] for k in ("W1", "b1", "W2", "b2")},
                              threshold=task.get("threshold"), hidden_scale=scale,
                              metrics=config.get("metrics", {}).get(name, {})))
    ml = heads_from_model(folder) if any(f"mls_{k}" in w for k in ("W1",)) else None
    return TrainedModel(head, topics, tasks, ml, config)
