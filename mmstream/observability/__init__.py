"""Operating mmstream: Prometheus metrics (``GET /metrics``), readiness
(``GET /ready``), JSON logs (``MMSTREAM_LOG_FORMAT=json``) and the metrics of
``mmstream sink``. Every metric lives in a registry of its own (never
prometheus_client's global one); names start with ``mmstream_``."""
from mmstream.observability.install import install_observability
from mmstream.observability.logs import JsonFormatter, logging_config, partition_context, worker_id
from mmstream.observability.metrics import WorkerMetrics
from mmstream.observability.ready import Readiness
from mmstream.observability.sink import SinkMetrics

__all__ = ["install_observability", "JsonFormatter", "logging_config", "partition_context", "worker_id",
           "WorkerMetrics", "Readiness", "SinkMetrics"]
