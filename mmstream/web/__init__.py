"""The dashboard a brand team keeps open (``/``), the analytics' UI: installed by the analytics
plugin (:mod:`mmstream.analytics.plugin`, ``extend_worker``) through the worker context, beside the
JSON API of :mod:`mmstream.analytics.serving.http`; a worker without the analytics plugin has neither.

* :mod:`mmstream.web.live`: a thread tailing posts, results and dead letters
  into bounded rings (the live mentions feed);
* :mod:`mmstream.web.snapshot`: what one view (:mod:`mmstream.web.view`: range, window, filters)
  shows, its charts (:mod:`mmstream.web.charts`) and, for a view filtered beyond its brand, the
  figures counted from the mentions (:mod:`mmstream.web.filtered`); the analyst's panels: the change
  against the previous period (:mod:`mmstream.web.periods`), keyword search (:mod:`mmstream.web.search`),
  top authors (:mod:`mmstream.web.authors`), campaigns and duplicate shares (:mod:`mmstream.web.copies`);
* :mod:`mmstream.web.routes`: ``/``, ``/static/...``, ``/events`` (SSE), ``/view`` (a view's check), ``/operator`` (readiness,
  lanes, dead letters: the operator's page, apart from the analyst's);
* :mod:`mmstream.web.auth`: the optional token and the security headers, and
  :mod:`mmstream.web.bind`: the warning for an exposed address: the worker's web server's own
  (every page, ``/metrics`` too), installed by the worker (:func:`secure_web_server`);
* ``static/``: the page, hand-written JS/CSS and uPlot (vendored from npm,
  MIT, licence beside it). No build step, nothing fetched at run time.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mmstream.settings import Settings

if TYPE_CHECKING:
    from mmstream.analytics.pipeline.service import Analytics

log = logging.getLogger(__name__)


def secure_web_server(web_app: Any, settings: Settings) -> None:
    """The worker's web server (aiohttp ``web_app``): the security headers on every response, the
    optional token (``MMSTREAM_WEB_TOKEN``) on every path but the probes, and a warning when it
    listens beyond this host without one. Called by the worker, whatever plugins are loaded."""
    from mmstream.web import auth
    from mmstream.web.bind import check_exposure

    auth.install(web_app, settings.web_token)
    warning = check_exposure(settings.web_host, settings.web_token, settings.web_insecure)
    if warning:
        log.warning("%s (port %s)", warning, settings.web_port)


def install_dashboard(context: Any, settings: Settings, analytics: "Analytics") -> None:
    """Add the dashboard's routes (``/``, ``/events``, ``/static/``, ``/operator``) to the worker of ``context``
    (a :class:`~mmstream.plugin.context.WorkerContext`), showing ``analytics``."""
    from mmstream.web.live import LiveFeed
    from mmstream.web.routes import Hub, add_routes

    live = LiveFeed(settings)
    hub = Hub(lambda: analytics, live)
    add_routes(context, hub)

    async def stop_live() -> None:
        live.stop()

    context.on_shutdown(stop_live)
