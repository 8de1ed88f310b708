"""Fixtures for the core's tests."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from fakedists import Dists

from ai_connector.manager import default_registry


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("AI_CONNECTOR_DISABLED_PLUGINS", raising=False)
    monkeypatch.delenv("AI_CONNECTOR_STRICT_PLUGINS", raising=False)
    importlib.invalidate_caches()
    d = Dists(tmp_path)
    default_registry.cache_clear()
    yield d
    default_registry.cache_clear()
    for module in d.modules:
        sys.modules.pop(module, None)
