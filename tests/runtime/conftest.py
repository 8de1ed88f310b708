"""Fixtures of the runtime tests (helpers live in runtime_fakes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

import pytest
from runtime_fakes import TRANSPORTS, WAY, FakeClock, FakePlugin

from ai_connector.manager import ProviderRegistry, load_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.testing import FakeServer


@pytest.fixture(scope="session")
def registry() -> ProviderRegistry:
    return load_registry(entry_points=False, plugins=[("fake", FakePlugin())])


@pytest.fixture
def server() -> Iterable[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=("httpx-api", "helpers"))
def way(request: pytest.FixtureRequest) -> Iterator[str]:
    """How the fake plugin streams: httpx's API, or `ctx.open_sse` (the short path on aiohttp)."""
    WAY["helpers"] = request.param == "helpers"
    yield request.param
    WAY["helpers"] = False


@pytest.fixture
async def runtime(registry: ProviderRegistry, transport: str, clock: FakeClock) -> AsyncIterator[Runtime]:
    rt = Runtime(
        registry,
        RuntimeSettings(transport=transport, timeout=10.0),
        clock=clock,
        sleep=clock.sleep,
        random=lambda: 0.5,
    )
    try:
        yield rt
    finally:
        await rt.aclose()
