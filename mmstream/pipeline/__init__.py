"""The per-post path: decoding and validating posts (``post``), holding plugin
code to its contract (``guard``), and the pipeline that runs a micro-batch
through the extractors, the fused model and the enrichers (``core``)."""
