"""pytest plugin (entry point `pytest11`): fixtures for provider authors; the contract kit lives in
`ai_connector.testing.contract`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ai_connector.testing.fakeserver import FakeServer


@pytest.fixture(scope="module")
def _module_fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def fake_server(_module_fake_server: FakeServer) -> FakeServer:
    """A started local HTTP server (127.0.0.1) to add provider routes to: one per test module
    (starting a server costs more than most tests), emptied of routes and requests for each test."""
    _module_fake_server.reset(routes=True)
    return _module_fake_server
