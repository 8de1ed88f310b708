"""Fixtures for the host tests: a fake provider speaking to a FakeServer on 127.0.0.1, settings
under a temporary data directory, the service, and a real PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import host_pg as pg
import pytest
from host_helpers import FakePlugin, answer_chat

from ai_connector.host.service import ConnectorService
from ai_connector.host.settings import HostSettings
from ai_connector.manager import ProviderRegistry, load_registry
from ai_connector.testing.fakeserver import FakeResponse, FakeServer


@pytest.fixture(scope="session")
def _running_fake_server() -> Iterator[FakeServer]:
    # One server for the session: starting and stopping uvicorn per test cost a quarter of a
    # second each, most of this folder's time.
    with FakeServer() as server:
        yield server


@pytest.fixture
def fake_server(_running_fake_server: FakeServer) -> FakeServer:
    """The shared server, reset: no recorded requests, and the default routes answering first
    (routes added later win, so a previous test's override of /chat is shadowed)."""
    server = _running_fake_server
    server.reset()
    server.add("POST", "/chat", answer_chat)
    server.add("POST", "/embed", FakeResponse.json({"vectors": [[0.25, -0.5]]}))
    return server


@pytest.fixture
def plugin() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def registry(plugin: FakePlugin) -> ProviderRegistry:
    return load_registry(entry_points=False, plugins=[("fake", plugin)])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def settings(home: Path) -> HostSettings:
    return HostSettings.load(env={"AI_CONNECTOR_HOME": str(home)})


@pytest.fixture
async def service(settings: HostSettings, registry: ProviderRegistry) -> AsyncIterator[ConnectorService]:
    svc = await ConnectorService.open(settings, registry=registry)
    yield svc
    await svc.aclose()


# ---------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A server URL: AI_CONNECTOR_TEST_POSTGRES_URL, or a throwaway cluster; skip only without both."""
    url = os.environ.get(pg.ENV_URL)
    if url:
        yield (
            url.replace("postgresql://", "postgresql+psycopg://", 1)
            if url.startswith("postgresql://")
            else url
        )
        return
    bin_dir = pg.pg_bin_dir()
    if bin_dir is None:
        pytest.skip(
            f"no PostgreSQL: set {pg.ENV_URL} or install Debian's postgresql package "
            "(initdb/pg_ctl under /usr/lib/postgresql/*/bin)"
        )
    cluster = pg.PgCluster(bin_dir)
    try:
        admin = cluster.start()
    except Exception as exc:
        tail = cluster.log_tail()
        cluster.stop()
        stderr = getattr(exc, "stderr", b"") or b""
        raise RuntimeError(
            f"could not start a PostgreSQL cluster from {bin_dir}: {exc}\n"
            f"{stderr.decode(errors='replace')}\n{tail}"
        ) from exc
    try:
        yield admin
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def _postgres_database(postgres_admin_url: str) -> Iterator[str]:
    with pg.fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def postgres_url(_postgres_database: str, postgres_admin_url: str) -> str:
    """An empty database on the PostgreSQL server (the session's one, emptied for this test)."""
    pg.empty_database(_postgres_database, postgres_admin_url)
    return _postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on the embedded SQLite file and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'connectors.db'}"
    return request.getfixturevalue("postgres_url")
