"""The worker context: what the hooks get instead of the Faust app (issue 26). Offline it refuses the
worker-only methods; in a worker it is the one door to the app's pages, agents, tasks and timers; a
hook still written for the raw app is refused at load, naming the new argument."""
from __future__ import annotations

import pytest

from mmstream.errors import PluginError
from mmstream.plugin import WorkerContext, hookimpl
from mmstream.plugin.manager import get_plugin_manager, register_enrichers, register_sinks
from mmstream.settings import Settings


def test_offline_the_context_says_so_and_refuses_the_worker_only_methods():
    context = WorkerContext(Settings.load())
    assert (context.mode, context.in_worker) == ("offline", False)
    for call in (lambda: context.add_route("/x", None), lambda: context.topic("mentions"),
                 lambda: context.add_agent("enriched", None, name="a"), lambda: context.on_shutdown(None)):
        with pytest.raises(PluginError, match=r"only in a worker; this pipeline runs offline"):
            call()


def test_hooks_get_an_offline_context_off_kafka():
    seen = []

    class Plugin:
        @hookimpl
        def register_enrichers(self, context):
            seen.append(("enrichers", context.mode))
            return []

        @hookimpl
        def register_sinks(self, settings, context):
            seen.append(("sinks", context.mode))
            return []

    settings = Settings.load()
    pm = get_plugin_manager(settings, plugins=[Plugin()])
    pm.unregister(name="analytics")  # its enrichers need a loaded model: ours only
    register_enrichers(pm, settings, model=None)
    register_sinks(pm, settings)
    assert seen == [("enrichers", "offline"), ("sinks", "offline")]


def test_a_hook_written_for_the_raw_app_is_refused_naming_context():
    class Old:
        @hookimpl
        def extend_worker(self, app, settings):
            pass

    with pytest.raises(PluginError, match=r"'app' is not among them \(the raw Faust app became 'context'"):
        get_plugin_manager(Settings.load(), plugins=[Old()])


def test_in_a_worker_routes_agents_and_tasks_go_onto_the_faust_app(tmp_path):
    import faust

    from mmstream.worker.context import FaustContext

    settings = Settings.load(topic_prefix="ctx.", data_dir=str(tmp_path))
    app = faust.App("ctx-test", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path))
    context = FaustContext(app, settings)
    assert (context.mode, context.in_worker) == ("worker", True)

    async def stats(web, request):
        return web.json({})

    async def handle(records):
        async for _ in records:
            pass

    async def start():
        pass

    context.add_route("/ctx/stats", stats)
    context.add_static("/ctx-static/", tmp_path, name="ctx_static")
    context.add_agent("enriched", handle, name="ctx-agent")
    context.add_task(start)
    routes = {(r["path"], r["static"]) for r in context.routes()}
    assert ("/ctx/stats", False) in routes and any(p.startswith("/ctx-static") and s for p, s in routes)
    assert context.topic("enriched").get_topic_name() == "ctx.enriched"
    assert "ctx-agent" in {a.name for a in app.agents.values()}
    assert context.assigned_partitions("enriched") == []  # no consumer yet
