"""The analytics served over HTTP: :mod:`~mmstream.analytics.serving.store` (what queries read: closed
windows, topics and alerts, as the feed reads them back) and :mod:`~mmstream.analytics.serving.http` (the
JSON API). The dashboard on top of them is :mod:`mmstream.web`. This ``__init__`` imports nothing."""
