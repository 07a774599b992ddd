"""The analytics' saved state: checkpoints that spare a restart most of a replay.

* :mod:`~mmstream.analytics.state.codec`: the data format (tagged JSON, never pickle);
* :mod:`~mmstream.analytics.state.tags`: the public type tags of the engine's and the duplicates' objects,
  and the names older formats wrote for them;
* :mod:`~mmstream.analytics.state.files`: the file (kind line, versioned header with a SHA-256 checksum,
  compressed body), written aside and renamed into place;
* :mod:`~mmstream.analytics.state.checkpoint`: the engine checkpoints of a worker's data directory;
* :mod:`~mmstream.analytics.state.copies`: the duplicates' checkpoints and journals, per partition of posts.

This ``__init__`` imports nothing.
"""
