"""Everything that talks to Kafka: the topic catalogue (``catalogue``), topic creation and ACL
checks (``admin``), the security settings per client library (``security``), kafka-python
clients (``clients``), reading topics back (``readback``), following topics (``follow``), the
patches to Faust's internals (``faust_patches``) and the embedded broker (``broker``)."""
