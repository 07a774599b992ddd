"""When a worker opens its plugins' models: a ``--lanes text`` worker opens a plugin's models at the first
post that needs them, not at start-up, so it holds in memory only what its stream uses.

Why: the text role is the one scaled out for latency, and its memory goal (issue 28: <= 450 MB peak with
language detection and the multilingual path) leaves no room for models its stream never calls. The image
plugin is the case: it stays in the text lane (an image costs tens of milliseconds, a clip seconds: routed
to the media lane it would wait behind clips; docs/architecture.md, "Lanes"), and its encoder, OCR and face
models cost ~116 MB of RSS once open. A text-role worker on a stream without images never opens them; one
on a stream with images opens them at the first image and costs as much as before.

The extractor that reads text (``reads_text``, the built-in text plugin) is opened at start-up: every post
needs it. Other roles (``all``, ``media``, ``inline``) open everything at start-up, as before. The first
post of a deferred plugin pays its opening in ``validate`` (decoding, outside the extraction time budgets;
the image plugin: ~2-3 s once), so a post is never dead-lettered for a budget its model's opening used up.
A plugin whose models fail to open dead-letters its posts with that error, each time, without trying again.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any, Callable

from mmstream.errors import ConfigError
from mmstream.lanes import parse_role

log = logging.getLogger(__name__)


def load_or_defer(extractor: Any, settings: Any) -> None:
    """``extractor.load()`` now, or, in a text-role worker and unless it reads text, at its first value."""
    try:
        role = parse_role(getattr(settings, "lanes", None))
    except ConfigError:  # the worker refuses it at start-up; score, eval and bench never read the setting
        role = "all"
    if role == "text" and not getattr(extractor, "reads_text", False):
        open_at_first_use(extractor)
    else:
        extractor.load()


def open_at_first_use(extractor: Any) -> None:
    """Make ``extractor`` call its own ``load()`` once, before its first ``validate`` or ``extract``
    (whichever comes first, from any thread); until then its models are not in memory."""
    load: Callable[[], None] = extractor.load
    lock = threading.Lock()
    state: dict[str, Any] = {"open": False, "error": None}

    def ensure() -> None:
        if state["open"]:
            return
        with lock:
            if state["error"] is not None:
                raise state["error"]
            if state["open"]:
                return
            began = time.perf_counter()
            try:
                load()
            except Exception as exc:  # noqa: BLE001 - kept: every later post of this plugin gets the same error
                state["error"] = exc
                log.error("plugin %r: opening its models at its first post failed (%r); its posts are "
                          "dead-lettered with this error until the worker restarts", extractor.name, exc)
                raise
            state["open"] = True
            log.info("plugin %r: models opened at its first post in %.1f s (a --lanes text worker opens them "
                     "when first needed)", extractor.name, time.perf_counter() - began)

    def first(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            ensure()
            return method(*args, **kwargs)
        return call

    extractor.validate = first(extractor.validate)
    extractor.extract = first(extractor.extract)
    extractor.load = ensure  # a later load() (the pipeline, a test) opens it once, as before
    extractor.opened = lambda: state["open"]
