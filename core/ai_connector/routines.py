"""Building blocks for a provider's *Save & test* routine: a runner that times a call and turns its
typed error into a TestResult, and the default test of a provider that declares none. They are
defined beside `Provider` (which builds the default for a provider without a `test`)."""

from __future__ import annotations

from ai_connector.types import MINIMAL_TEST_REQUESTS, default_test, run_test

__all__ = ["MINIMAL_TEST_REQUESTS", "default_test", "run_test"]
