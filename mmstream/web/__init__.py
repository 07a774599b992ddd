"""The dashboard a brand team keeps open: served by every worker's web server at
``/`` (the JSON API of :mod:`mmstream.analytics.serving.http` stays where it is).

* :mod:`mmstream.web.live`: a thread tailing posts, results and dead letters
  into bounded rings (the live mentions feed);
* :mod:`mmstream.web.snapshot`: what one view (range, window, filters) shows;
* :mod:`mmstream.web.routes`: ``/``, ``/static/...``, ``/events`` (SSE);
* :mod:`mmstream.web.auth`: the optional token and the security headers;
* ``static/``: the page, hand-written JS/CSS and uPlot (vendored from npm,
  MIT, licence beside it). No build step, nothing fetched at run time.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mmstream.settings import Settings

if TYPE_CHECKING:
    import faust

log = logging.getLogger(__name__)


def install_dashboard(app: "faust.App", settings: Settings) -> None:
    """Add the dashboard's routes, headers and optional token to ``app``'s web server.
    The analytics are ``app.mmstream_analytics`` (set by the analytics plugin), looked up
    when a page asks: without them the page shows the live feed and dead letters only."""
    from mmstream.web import auth
    from mmstream.web.bind import check_exposure
    from mmstream.web.live import LiveFeed
    from mmstream.web.routes import Hub, add_routes

    web_app = app.web.web_app
    auth.install(web_app, settings.web_token)
    live = LiveFeed(settings)
    hub = Hub(lambda: getattr(app, "mmstream_analytics", None), live)
    add_routes(web_app, hub)

    @app.on_before_shutdown.connect
    async def stop_live(app: object, **kwargs: object) -> None:  # noqa: ARG001
        live.stop()

    warning = check_exposure(settings.web_host, settings.web_token, settings.web_insecure)
    if warning:
        log.warning("%s (port %s)", warning, settings.web_port)
