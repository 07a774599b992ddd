"""``mmstream bench``: throughput and latency of mmstream against the model's
own limit and a per-event peer, side by side, in one run on the same posts.

Modules: :mod:`~mmstream.bench.posts` (the mixes), :mod:`~mmstream.bench.limit`
(raw ONNX inference, no Kafka), :mod:`~mmstream.bench.driver` (the Kafka load
generator and result collector), :mod:`~mmstream.bench.e2e` (worker processes
through the embedded broker), :mod:`~mmstream.bench.peer` (the per-event
Faust + PyTorch peer; the only module importing torch),
:mod:`~mmstream.bench.report` (table, JSON, goals) and
:mod:`~mmstream.bench.run` (the whole run, the command's entry point).
"""
