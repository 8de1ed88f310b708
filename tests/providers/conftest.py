"""Provider tests share one fake server per module (starting one costs more than most tests), emptied
of routes, requests and queued answers before each test (`fake_server`, from the contract kit's
pytest plugin)."""

from __future__ import annotations

import pytest

from ai_connector.testing import FakeServer


@pytest.fixture
def server(fake_server: FakeServer) -> FakeServer:
    """The module's fake server, reset for this test."""
    return fake_server
