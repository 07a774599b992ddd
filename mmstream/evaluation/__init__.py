"""Evaluation sets and figures beyond the text benchmarks of ``mmstream eval``
(:mod:`mmstream.commands.evaluate`): :mod:`.spoken` builds the spoken/captioned TweetEval set,
:mod:`.media` measures the pipeline on it."""
