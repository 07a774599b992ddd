"""With a token set, a real worker answers 401 on every route it registered but the probes: its router is
enumerated (by a plugin installed like any third-party one), so a route added later is covered too."""
from __future__ import annotations

import json


ROUTE_LISTER = '''
"""A test plugin: a page listing the worker's aiohttp routes as they are when asked."""
from mmstream.plugin import hookimpl


@hookimpl
def extend_worker(context, settings, pipeline):
    async def routes(web, request):
        return web.json({"routes": [{"method": r["method"], "canonical": r["path"], "static": r["static"]}
                                    for r in context.routes()]})

    context.add_route("/_test/routes", routes, name="routelist_routes")
'''


def install_route_lister(site) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / "mmstream_routelist.py").write_text(ROUTE_LISTER)
    info = site / "mmstream_routelist-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmstream-routelist\nVersion: 1.0.0\n")
    (info / "entry_points.txt").write_text("[mmstream]\nroutelist = mmstream_routelist\n")
    (info / "RECORD").write_text("")


def _request(port: int, method: str, path: str, token: str | None = None) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {})
        return conn.getresponse().status  # the status line and headers only: /events streams on
    finally:
        conn.close()


def _concrete(route: dict) -> str:
    """A path that reaches ``route``: every ``{variable}`` filled in, a file under a static folder."""
    import re

    if route["static"]:
        return route["canonical"].rstrip("/") + "/dashboard.js"
    return re.sub(r"\{[^}]*\}", "x", route["canonical"])


def test_with_a_token_every_registered_route_but_the_probes_answers_401_without_it(settings, tmp_path):
    """Not a fixed list of paths: the running worker's router, enumerated, so a route added later
    (by mmstream or a plugin) is covered too."""
    from support import WorkerProcess, wait_until

    token = "tok-route-check-0123456789"
    site = tmp_path / "site"
    install_route_lister(site)
    port = settings.web_port
    worker = WorkerProcess(settings, tmp_path / "worker.log", {"MMSTREAM_WEB_TOKEN": token, "PYTHONPATH": str(site)})
    try:
        def listed():
            try:
                return _request(port, "GET", "/health") == 200 and _request(port, "GET", "/_test/routes", token) == 200
            except OSError:
                return False
        wait_until(listed, 120, "the worker's web server")
        import urllib.request

        req = urllib.request.Request(f"http://127.0.0.1:{port}/_test/routes", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            routes = json.loads(resp.read())["routes"]
        canonical = {r["canonical"] for r in routes}
        # the enumeration sees the routes of every part: mmstream's, the analytics', the dashboard's, the plugin's
        # (Faust's own /router/ and /table/ pages included)
        assert {"/health", "/ready", "/metrics", "/brands", "/brands/{brand}/windows", "/topics/{topic_id}",
                "/alerts", "/schemas/{topic}", "/", "/events", "/static", "/router/", "/_test/routes"} <= canonical, \
            sorted(canonical)
        checked, open_paths = [], []
        for route in routes:
            path = _concrete(route)
            method = route["method"] if route["method"] != "*" else "GET"
            status = _request(port, method, path)
            if route["canonical"] in ("/health", "/ready"):
                open_paths.append((method, path, status))
                assert status != 401, (method, path)
                continue
            assert status == 401, f"{method} {path} ({route['canonical']}) answered {status} without the token"
            checked.append((method, path))
            if method == "GET":  # with the token the route answers: the 401 above was the token's doing
                assert _request(port, method, path, token) != 401, (method, path)
        assert len({p for _, p in checked}) >= 10 and open_paths, (checked, open_paths)
        assert worker.alive(), worker.log()
    finally:
        worker.stop()
