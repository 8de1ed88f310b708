"""Fixtures for the Kibana-exactness tests: the HTTP API fixtures of tests/api (a fake provider on a
FakeServer, a service on a temp home, an httpx client on the app) and the PostgreSQL server of
tests/host, loaded from those directories so both suites share one definition."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_TESTS = Path(__file__).resolve().parent.parent
for _shared in ("api", "host"):
    if str(_TESTS / _shared) not in sys.path:
        sys.path.insert(0, str(_TESTS / _shared))


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_api = _load("kibana_api_fixtures", _TESTS / "api" / "conftest.py")
_host = _load("kibana_host_fixtures", _TESTS / "host" / "conftest.py")

server = _api.server
_reset_server = _api._reset_server
registry = _api.registry
home = _api.home
make_settings = _api.make_settings
open_client = _api.open_client
api = _api.api
client = _api.client
# Every PostgreSQL fixture of tests/host (the server, the session's database, an emptied one).
globals().update({name: getattr(_host, name) for name in dir(_host) if "postgres" in name})
