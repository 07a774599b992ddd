"""Everything that talks to Kafka: client construction and topic helpers
(``clients``), the embedded broker (``broker``) and the worker consumer's fetch
wait (``fetch_wait``)."""
