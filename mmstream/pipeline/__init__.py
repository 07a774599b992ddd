"""The per-post path, one job a module: decoding and validating posts (``post``), what a batch
carries (``work``), running a micro-batch through the extractors, the fused model and the
enrichers (``batch``), holding plugin code to its contract with budgets and retries
(``isolation``), building every result and dead letter (``outcomes``), and assembling a
pipeline from the plugins (``build``)."""
