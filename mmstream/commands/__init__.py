"""The ``mmstream`` command line (``cli``) and the commands that are more than
a few lines: ``demo``, ``score``, ``evaluate``."""
