"""Fixtures for the HTTP API tests: a fake provider on a FakeServer, a ConnectorService on a temp
data directory, and an httpx client on the ASGI app (same event loop as the service)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_fakes import FakePlugin, install
from api_helpers import ALL_KEY, ENCRYPTION_KEY, READ_KEY

from ai_connector.api import create_app
from ai_connector.manager import load_registry
from ai_connector.testing import FakeServer


@pytest.fixture(scope="session")
def server() -> Any:
    with FakeServer() as srv:
        install(srv)
        yield srv


@pytest.fixture(autouse=True)
def _reset_server(server: FakeServer) -> None:
    server.reset()
    install(server)


@pytest.fixture(scope="session")
def registry() -> Any:
    return load_registry(entry_points=False, plugins=[("fake", FakePlugin())])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def make_settings(home: Path) -> Callable[..., Any]:
    """HostSettings for a temp home; keyword arguments are extra environment variables."""
    from ai_connector.host.settings import HostSettings

    def make(**env: str) -> Any:
        base = {
            "AI_CONNECTOR_HOME": str(home),
            "AI_CONNECTOR_API_KEYS": f"{ALL_KEY}:all,{READ_KEY}:read",
            "AI_CONNECTOR_ENCRYPTION_KEY": ENCRYPTION_KEY,
        }
        base.update(env)
        return HostSettings.load(env=base)

    return make


@pytest.fixture
async def open_client(registry: Any, make_settings: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    """`await open_client(**env)` -> (client, service); closed at the end of the test."""
    from ai_connector.host.service import ConnectorService

    opened: list[tuple[httpx.AsyncClient, Any]] = []

    async def open_(**env: str) -> tuple[httpx.AsyncClient, Any]:
        service = await ConnectorService.open(make_settings(**env), registry=registry)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(service)), base_url="http://testserver"
        )
        opened.append((client, service))
        return client, service

    yield open_
    for client, service in opened:
        await client.aclose()
        await service.aclose()


@pytest.fixture
async def api(open_client: Callable[..., Any]) -> tuple[httpx.AsyncClient, Any]:
    """A client on a trial-licensed host with an `all` and a `read` key."""
    return await open_client()


@pytest.fixture
def client(api: tuple[httpx.AsyncClient, Any]) -> httpx.AsyncClient:
    return api[0]
