"""Model execution: the one ONNX Runtime session wrapper (``onnx``) and the
fused model that turns per-modality features into sentiment and topics (``fused``)."""
