"""Who may see the dashboard and the JSON API, and the headers every response carries.

Off by default (the worker listens on 127.0.0.1). With ``MMSTREAM_WEB_TOKEN``
set, every path but ``/health`` and ``/ready`` (the probes) needs the token (``/metrics``
too: give Prometheus the bearer token): as
``Authorization: Bearer <token>``, or as the cookie the dashboard sets when it is
opened once as ``/?token=<token>`` (the page then redirects to ``/``, so the
token leaves the address bar and the history). The cookie holds an HMAC of the
token, not the token; HttpOnly, SameSite=Strict.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Awaitable, Callable

from aiohttp import web

COOKIE = "mmstream_session"
OPEN_PATHS = ("/health", "/ready")  # the probes: a kubelet sends no token

#: no inline script or style, nothing from elsewhere; the page's own files only
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin",
           "Cross-Origin-Resource-Policy": "same-origin"}


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"mmstream-dashboard-session", hashlib.sha256).hexdigest()


def authorised(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def token_middleware(token: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        if request.path in OPEN_PATHS or authorised(request, token):
            return await handler(request)
        offered = request.query.get("token")
        if request.path == "/" and offered is not None and hmac.compare_digest(offered.encode(), token.encode()):
            response = web.HTTPSeeOther("/")
            response.set_cookie(COOKIE, session_value(token), httponly=True, samesite="Strict", path="/",
                                secure=request.secure)
            return response
        message = ("this worker's web server needs its token (MMSTREAM_WEB_TOKEN): send "
                   "'Authorization: Bearer <token>', or open /?token=<token> once in the browser")
        return web.json_response({"error": message}, status=401, headers={"WWW-Authenticate": "Bearer"})
    return guard


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, streams and static files included."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path == "/" or request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
    else:
        response.headers.setdefault("Cache-Control", "no-store")


def install(web_app: web.Application, token: str) -> None:
    web_app.on_response_prepare.append(add_headers)
    if token:
        web_app.middlewares.append(token_middleware(token))
