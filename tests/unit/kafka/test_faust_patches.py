"""The patches to Faust's internals apply only to the versions they were written against."""
from __future__ import annotations

from importlib.metadata import version

import pytest

from mmstream.errors import ConfigError
from mmstream.kafka.faust_patches import PINNED, check_pinned, set_fetch_max_wait


def test_the_installed_versions_are_the_pinned_ones() -> None:
    assert {name: version(name) for name in PINNED} == dict(PINNED)
    check_pinned()  # the environment's: passes


@pytest.mark.parametrize("name", sorted(PINNED))
def test_another_version_fails_loudly_naming_the_fix(name: str) -> None:
    installed = {**PINNED, name: "9.9.9"}
    with pytest.raises(ConfigError, match=rf"{name} 9\.9\.9 is installed: pip install '{name}=={PINNED[name]}'"):
        check_pinned(installed)
    with pytest.raises(ConfigError, match=r"\(none\) is installed"):
        check_pinned({k: v for k, v in PINNED.items() if k != name})


def test_the_fetch_wait_reaches_the_consumer_faust_builds() -> None:
    """Faust's worker consumer (an aiokafka consumer, built without connecting) gets the wait set
    last, not Faust's hard-coded 1,500 ms."""
    import asyncio

    import faust

    set_fetch_max_wait(75)
    set_fetch_max_wait(20)  # the last call wins

    async def build() -> int:
        app = faust.App("mmstream-fetch-wait-probe", broker="kafka://127.0.0.1:1", store="memory://")
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()

    assert asyncio.run(build()) == 20
