"""A trained fused model's multilingual heads, read back to be written into a new graph unchanged
(``mmstream train --multilingual-from DIR``). Apart from :mod:`mmstream.training.multilingual_graph`,
which :mod:`mmstream.training.head` imports: these heads' types import the head module."""
from __future__ import annotations

import numpy as np

from mmstream.training.head import TopicHead
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
