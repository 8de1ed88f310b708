"""Fixtures for the security suite: a real `ai-connector serve` shared by a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from served_host import ServedHost


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHost]:
    """A running host with an `all` and a `read` key and the built-in providers."""
    home: Path = tmp_path_factory.mktemp("served-home")
    with ServedHost(home) as host:
        yield host
