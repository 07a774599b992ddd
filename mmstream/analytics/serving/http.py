"""HTTP queries on the worker's web server (JSON); see README "HTTP API".

=====================================  ==============================================
``GET /brands``                        configured and seen brands, posts counted
``GET /brands/{brand}/windows``        ``?window=tumbling|hopping&from=&to=&open=true``
``GET /topics``                        ``?status=active|merged|retired|all&limit=``
``GET /topics/{topic_id}``             one topic
``GET /alerts``                        ``?kind=volume|negative_share|complaint_share|coordinated&subject=&from=&to=&limit=``
``GET /analytics/status``              the engine and feed on this worker
=====================================  ==============================================

``from``/``to`` are ISO-8601 with an offset or epoch seconds. Closed windows,
topics and alerts come from the output topics, so every worker answers the
same; open windows (``"closed": false``) only from the worker that runs the
engine at the moment.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmstream.errors import QueryError
from mmstream.timefmt import TimeFormatError, to_ms

#: the alert kinds the engines raise (spikes of volume, negative and complaint share; coordinated campaigns)
ALERT_KINDS = ("volume", "negative_share", "complaint_share", "coordinated")

if TYPE_CHECKING:
    from mmstream.analytics.pipeline.service import Analytics

DEFAULT_LIMIT = 100


def _time(request: Any, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return to_ms(float(raw) if raw.replace(".", "", 1).isdigit() else raw)
    except TimeFormatError:
        raise QueryError(f"'{name}' must be ISO-8601 with an offset or epoch seconds, got {raw!r}") from None


def _limit(request: Any) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or int(raw) < 1:
        raise QueryError(f"'limit' must be a positive integer, got {raw!r}")
    return int(raw)


def register_routes(context: Any, analytics: "Analytics") -> None:
    """The pages, added with ``context.add_route`` (the worker's :class:`~mmstream.plugin.context.WorkerContext`)."""
    store = analytics.store

    def guarded(handler: Any) -> Any:
        async def view(web: Any, request: Any, **params: str) -> Any:
            try:
                return web.json(handler(request, **params))
            except QueryError as exc:
                return web.json({"error": str(exc)}, status=400)
            except LookupError as exc:
                return web.json({"error": str(exc.args[0]) if exc.args else "not found"}, status=404)
        view.__name__ = handler.__name__
        return view

    def brands(request: Any) -> dict:
        return {"brands": store.brands()}

    def windows(request: Any, brand: str) -> dict:
        name = request.query.get("window", "tumbling")
        if name not in analytics.spec_names:
            raise QueryError(f"'window' must be one of {analytics.spec_names}, got {name!r}")
        since, until = _time(request, "from"), _time(request, "to")
        rows = store.windows(brand, name, since, until)
        if request.query.get("open", "true").lower() not in ("0", "false", "no") and analytics.owns_engine():
            starts = {r["window"]["start"] for r in rows}
            for rec in analytics.engine.open_windows(brand, name):
                start, end = to_ms(rec["window"]["start"]), to_ms(rec["window"]["end"])
                if rec["window"]["start"] not in starts and (until is None or start < until) and (since is None or end > since):
                    rows.append(rec)
        return {"brand": brand, "window": name, "windows": rows}

    def topics(request: Any) -> dict:
        status = request.query.get("status", "active")
        if status not in ("active", "merged", "retired", "all"):
            raise QueryError(f"'status' must be active, merged, retired or all, got {status!r}")
        return {"topics": store.topics(status)[: _limit(request)]}

    def topic(request: Any, topic_id: str) -> dict:
        found = store.topic(topic_id)
        if found is None:
            raise LookupError(f"no topic {topic_id!r}")
        return found

    def alerts(request: Any) -> dict:
        kind = request.query.get("kind") or None
        if kind is not None and kind not in ALERT_KINDS:
            raise QueryError(f"'kind' must be one of {', '.join(ALERT_KINDS)}, got {kind!r}")
        rows = store.alerts(kind, request.query.get("subject") or None, _time(request, "from"), _time(request, "to"))
        return {"alerts": rows[-_limit(request):]}

    def status(request: Any) -> dict:
        return analytics.describe()

    for path, handler in (("/brands", brands), ("/brands/{brand}/windows", windows), ("/topics", topics),
                          ("/topics/{topic_id}", topic), ("/alerts", alerts), ("/analytics/status", status)):
        context.add_route(path, guarded(handler), name=f"analytics_{handler.__name__}")

