"""Test support shipped with the package: a real local HTTP server for wire-exact provider fakes,
and the provider contract kit (also a pytest plugin, `ai_connector.testing.pytest_plugin`)."""

from ai_connector.testing.fakeserver import FakeResponse, FakeServer, RecordedRequest

__all__ = ["FakeResponse", "FakeServer", "RecordedRequest"]
