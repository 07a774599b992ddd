"""The fused head: masked per-modality features -> MLP -> softmax, trained
with numpy (no torch needed) and written out as a small ONNX graph.

Input layout (same in training and in the ONNX graph):
``z = concat(x_m * mask_m for m in modalities) ++ concat(mask_m)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np


@dataclass
class HeadSpec:
    modalities: dict[str, int]
    hidden: int = 256
    n_classes: int = 3

    @property
    def n_inputs(self) -> int:
        return sum(self.modalities.values()) + len(self.modalities)


def assemble(spec: HeadSpec, feats: dict[str, np.ndarray | None], masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Build ``z`` [n, n_inputs] from per-modality matrices and 0/1 masks."""
    parts, mask_cols = [], []
    for m, dim in spec.modalities.items():
        mask = masks.get(m, np.zeros(n, np.float32)).astype(np.float32).reshape(n, 1)
        x = feats.get(m)
        parts.append(np.zeros((n, dim), np.float32) if x is None else x.astype(np.float32) * mask)
        mask_cols.append(mask)
    return np.concatenate(parts + mask_cols, axis=1)


@dataclass
class Head:
    spec: HeadSpec
    params: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def init(cls, spec: HeadSpec, seed: int) -> "Head":
        rng = np.random.default_rng(seed)
        return cls(spec, {
            "W1": (rng.standard_normal((spec.n_inputs, spec.hidden)) * np.sqrt(2.0 / spec.n_inputs)).astype(np.float32),
            "b1": np.zeros(spec.hidden, np.float32),
            "W2": (rng.standard_normal((spec.hidden, spec.n_classes)) * np.sqrt(1.0 / spec.hidden)).astype(np.float32),
            "b2": np.zeros(spec.n_classes, np.float32),
        })

    def logits(self, z: np.ndarray) -> np.ndarray:
        h = np.maximum(z @ self.params["W1"] + self.params["b1"], 0)
        return h @ self.params["W2"] + self.params["b2"]

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        return _softmax(self.logits(z))

    def fit(
        self,
        epoch_data: Callable[[int], tuple[np.ndarray, np.ndarray]],
        validate: Callable[["Head"], float],
        *,
        epochs: int = 10,
        batch: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.2,
        class_weights: np.ndarray | None = None,
        seed: int = 0,
        on_epoch: Callable[[int, float, float], None] | None = None,
        trainable: dict[str, np.ndarray] | None = None,
    ) -> float:
        """Adam on cross-entropy; ``epoch_data(e)`` gives that epoch's (z, y);
        keeps the parameters of the epoch with the best ``validate`` score.

        ``trainable``: 0/1 masks (broadcast to each parameter) of what may change; the rest stays as it
        is, and the parameters as they were count as an epoch (a warm start is kept when no epoch beats it)."""
        rng = np.random.default_rng(seed)
        m = {k: np.zeros_like(v) for k, v in self.params.items()}
        v = {k: np.zeros_like(v) for k, v in self.params.items()}
        step, best, best_params = 0, -np.inf, None
        if trainable is not None:
            best, best_params = validate(self), {k: p.copy() for k, p in self.params.items()}
        cw = np.ones(self.spec.n_classes, np.float32) if class_weights is None else class_weights.astype(np.float32)
        for epoch in range(epochs):
            z_all, y_all = epoch_data(epoch)
            order = rng.permutation(len(y_all))
            losses = []
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                z, y = z_all[idx], y_all[idx]
                grads, loss = self._grads(z, y, cw, dropout, rng)
                losses.append(loss)
                step += 1
                for k, g in grads.items():
                    g = g + weight_decay * self.params[k] if k.startswith("W") else g
                    if trainable is not None:
                        g = g * trainable.get(k, 0.0)
                    m[k] = 0.9 * m[k] + 0.1 * g
                    v[k] = 0.999 * v[k] + 0.001 * g * g
                    mhat, vhat = m[k] / (1 - 0.9 ** step), v[k] / (1 - 0.999 ** step)
                    self.params[k] -= lr * mhat / (np.sqrt(vhat) + 1e-8)
            score = validate(self)
            if on_epoch:
                on_epoch(epoch, float(np.mean(losses)), score)
            if score > best:
                best, best_params = score, {k: p.copy() for k, p in self.params.items()}
        self.params = best_params
        return float(best)

    def _grads(self, z, y, cw, dropout, rng):
        p = self.params
        pre = z @ p["W1"] + p["b1"]
        h = np.maximum(pre, 0)
        keep = (rng.random(h.shape) >= dropout).astype(np.float32) / (1 - dropout)
        hd = h * keep
        probs = _softmax(hd @ p["W2"] + p["b2"])
        n = len(y)
        w = cw[y]
        loss = float(np.sum(-np.log(probs[np.arange(n), y] + 1e-9) * w) / np.sum(w))
        d = probs.copy()
        d[np.arange(n), y] -= 1
        d *= (w / np.sum(w))[:, None]
        dh = (d @ p["W2"].T) * keep * (pre > 0)
        return {"W2": hd.T @ d, "b2": d.sum(0), "W1": z.T @ dh, "b1": dh.sum(0)}, loss

    def to_onnx(self, path: Path, topics: "TopicHead | None" = None, tasks: Sequence[Any] = (),
                multilingual: Any = None, *, texts: tuple[str, ...] = ("", "")) -> None:
        """Write the graph: per-modality inputs and masks -> ``sentiment``
        probabilities (and ``topics`` probabilities when a topic head is given;
        one softmax output per text-task head in ``tasks``, named after it, over
        the means of the text-like views: see :mod:`mmstream.training.tasks`).
        ``texts``: the inputs of the post's own text and of the text read or heard in media (the
        trainer's :class:`~mmstream.training.extractors.FeatureNames` ``texts``: two or more), needed by
        the topic, task and multilingual heads, which read the mean of those present."""
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        inputs, nodes, products, masks = [], [], [], []
        for m, dim in self.spec.modalities.items():
            inputs.append(helper.make_tensor_value_info(m, TensorProto.FLOAT, ["batch", dim]))
            inputs.append(helper.make_tensor_value_info(f"{m}_mask", TensorProto.FLOAT, ["batch", 1]))
            nodes.append(helper.make_node("Mul", [m, f"{m}_mask"], [f"{m}_masked"]))
            products.append(f"{m}_masked")
            masks.append(f"{m}_mask")
        nodes += [
            helper.make_node("Concat", products + masks, ["z"], axis=1),
            helper.make_node("MatMul", ["z", "W1"], ["zw"]),
            helper.make_node("Add", ["zw", "b1"], ["pre"]),
            helper.make_node("Relu", ["pre"], ["h"]),
            helper.make_node("MatMul", ["h", "W2"], ["hw"]),
            helper.make_node("Add", ["hw", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["sentiment"], axis=-1),
        ]
        inits = [numpy_helper.from_array(self.params[k].astype(np.float32), k) for k in ("W1", "b1", "W2", "b2")]
        out = [helper.make_tensor_value_info("sentiment", TensorProto.FLOAT, ["batch", self.spec.n_classes])]
        if topics is not None:
            # mean of the text-like embeddings present: (own*m_o + derived*m_d) / max(m_o + m_d, 1)
            nodes += [
                _sum_node([f"{b}_masked" for b in texts], "texts_sum"),
                _sum_node([f"{b}_mask" for b in texts], "texts_n"),
                helper.make_node("Max", ["texts_n", "one"], ["texts_n1"]),
                helper.make_node("Div", ["texts_sum", "texts_n1"], ["texts_mean"]),
                helper.make_node("MatMul", ["texts_mean", "Wt"], ["tw"]),
                helper.make_node("Add", ["tw", "bt"], ["topic_logits"]),
                helper.make_node("Sigmoid", ["topic_logits"], ["topics"]),
            ]
            inits += [numpy_helper.from_array(np.ones((1, 1), np.float32), "one"),
                      numpy_helper.from_array(topics.W.astype(np.float32), "Wt"),
                      numpy_helper.from_array(topics.b.astype(np.float32), "bt")]
            out.append(helper.make_tensor_value_info("topics", TensorProto.FLOAT, ["batch", len(topics.labels)]))
        if tasks:
            names = []
            for view in ("", "_sentiment"):
                nodes += [
                    _sum_node([f"{b}{view}_masked" for b in texts], f"task{view}_sum"),
                    _sum_node([f"{b}{view}_mask" for b in texts], f"task{view}_n"),
                    helper.make_node("Max", [f"task{view}_n", "task_one"], [f"task{view}_n1"]),
                    helper.make_node("Div", [f"task{view}_sum", f"task{view}_n1"], [f"task{view}_mean"]),
                ]
                names.append(f"task{view}_mean")
            nodes.append(helper.make_node("Concat", names, ["task_z"], axis=1))
            inits.append(numpy_helper.from_array(np.ones((1, 1), np.float32), "task_one"))
            for task in tasks:
                t = task.name
                task_in = "task_z"
                if task.hidden_scale is not None:  # the sentiment head's hidden layer joins the input
                    inits.append(numpy_helper.from_array(np.array(task.hidden_scale, np.float32), f"{t}_hscale"))
                    nodes += [helper.make_node("Mul", ["h", f"{t}_hscale"], [f"{t}_hs"]),
                              helper.make_node("Concat", ["task_z", f"{t}_hs"], [f"{t}_in"], axis=1)]
                    task_in = f"{t}_in"
                nodes += [
                    helper.make_node("MatMul", [task_in, f"{t}_W1"], [f"{t}_zw"]),
                    helper.make_node("Add", [f"{t}_zw", f"{t}_b1"], [f"{t}_pre"]),
                    helper.make_node("Relu", [f"{t}_pre"], [f"{t}_h"]),
                    helper.make_node("MatMul", [f"{t}_h", f"{t}_W2"], [f"{t}_hw"]),
                    helper.make_node("Add", [f"{t}_hw", f"{t}_b2"], [f"{t}_logits"]),
                    helper.make_node("Softmax", [f"{t}_logits"], [t], axis=-1),
                ]
                inits += [numpy_helper.from_array(task.params[k].astype(np.float32), f"{t}_{k}") for k in ("W1", "b1", "W2", "b2")]
                out.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, ["batch", len(task.labels)]))
        if multilingual is not None:  # mmstream.training.multilingual.MultilingualHeads
            from mmstream.training.multilingual_graph import add_to_graph

            add_to_graph(inputs, nodes, inits, out, multilingual, topic_threshold=topics.threshold if topics else None,
                         task_thresholds={t.name: t.threshold for t in tasks}, texts=texts)
        graph = helper.make_graph(nodes, "mmstream_fused", inputs, out, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mmstream")
        model.ir_version = 8
        onnx.checker.check_model(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))


def _sum_node(names: Sequence[str], out: str) -> Any:
    """One ONNX node summing ``names`` (``Add`` for two, as graphs before more text inputs had; ``Sum`` else)."""
    from onnx import helper

    return helper.make_node("Add" if len(names) == 2 else "Sum", list(names), [out])


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class TopicHead:
    """Multi-label topics: a linear layer + sigmoid over the mean of the
    text-like embeddings present (the post text and the text read from images)."""

    labels: list[str]
    W: np.ndarray
    b: np.ndarray
    threshold: float = 0.5

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, labels: list[str], *, X_val: np.ndarray, Y_val: np.ndarray,
            l2: float = 1e-3, lr: float = 0.5, steps: int = 600) -> "TopicHead":
        """Class-balanced logistic regressions (full-batch gradient descent);
        the decision threshold is chosen on the validation split."""
        n, d = X.shape
        k = Y.shape[1]
        pos = np.clip(Y.mean(0), 1e-3, 1)
        w_pos, w_neg = 0.5 / pos, 0.5 / np.clip(1 - pos, 1e-3, 1)
        W, b = np.zeros((d, k), np.float32), np.log(pos / (1 - pos + 1e-9)).astype(np.float32)
        for _ in range(steps):
            p = 1 / (1 + np.exp(-(X @ W + b)))
            g = (p - Y) * (Y * w_pos + (1 - Y) * w_neg) / n
            W -= lr * (X.T @ g + l2 * W)
            b -= lr * g.sum(0)
        head = cls(list(labels), W.astype(np.float32), b.astype(np.float32))
        probs = head.predict_proba(X_val)
        head.threshold = max(np.arange(0.2, 0.81, 0.05), key=lambda t: multilabel_macro_f1(Y_val, probs >= t))
        return head

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(X @ self.W + self.b)))


def multilabel_macro_f1(Y: np.ndarray, P: np.ndarray) -> float:
    """Macro-F1 over labels (a label with no gold and no predicted positives scores 0)."""
    tp = (P & (Y > 0)).sum(0)
    fp = (P & (Y == 0)).sum(0)
    fn = (~P & (Y > 0)).sum(0)
    return float(np.mean(np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)))
