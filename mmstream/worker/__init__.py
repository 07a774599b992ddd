"""The streaming worker: the Faust app factory (``app``), overlapped
micro-batches (``overlap``), start-up (``run``) and memory discipline (``malloc``)."""
