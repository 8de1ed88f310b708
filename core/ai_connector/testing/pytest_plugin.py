"""pytest plugin (entry point `pytest11`): fixtures for provider authors; the contract kit lives in
`ai_connector.testing.contract`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ai_connector.testing.fakeserver import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A started local HTTP server (127.0.0.1) to add provider routes to."""
    with FakeServer() as server:
        yield server
