"""Suite-wide settings: keep every test's caches and data out of the user's own directories, and
fail any test that lets a canary secret escape (tests/canaries.py).

The canary check covers, for every test: its captured logs, stdout and stderr, its failure text,
every answer an in-process HTTP API app sends, every record the package's and httpx's loggers make
at any level (DEBUG included, whether or not a handler would show it), and the stored plaintext
(SQLite files, audit and other logs) under its tmp_path.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from canaries import find_canary

# Property tests check outcomes, never speed: on a loaded 2-core machine one example can take longer
# than hypothesis's default 200 ms deadline, which would fail a correct test.
hypothesis_settings.register_profile("ai_connector", deadline=None)
hypothesis_settings.load_profile("ai_connector")

# Set before any test imports the package, so subprocesses started by tests inherit it too.
os.environ.setdefault("AI_CONNECTOR_CACHE_DIR", tempfile.mkdtemp(prefix="ai-connector-test-cache-"))
# Child processes (a second host) import the test helpers, and through them the canary factory.
_TESTS = str(Path(__file__).parent)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_TESTS, os.environ.get("PYTHONPATH")) if p)

pytest_plugins = ["pytester"]  # tests/security/test_canary_check.py proves the check in a child run

_LEAKS: list[str] = []  # canaries seen in an API answer since the current test started
STORED_PLAINTEXT = ("*.db", "*.db-wal", "*.db-journal", "*.sqlite", "*.log", "*.jsonl")


def _watch_api_answers() -> None:
    """Every FastAPI app in this process reports a canary in any answer it sends."""
    from fastapi import FastAPI

    if getattr(FastAPI, "_canary_watched", False):
        return
    original = FastAPI.__call__

    async def watched(self: FastAPI, scope: Any, receive: Any, send: Any) -> None:
        async def checked_send(message: Any) -> None:
            if message.get("type") == "http.response.body":
                hit = find_canary(message.get("body", b""))
                if hit:
                    _LEAKS.append(f"{scope.get('method')} {scope.get('path')} answered with {hit}")
            await send(message)

        await original(self, scope, receive, checked_send if scope.get("type") == "http" else send)

    FastAPI.__call__ = watched  # type: ignore[method-assign]
    FastAPI._canary_watched = True  # type: ignore[attr-defined]


class _CanaryLogWatch(logging.Handler):
    """Sees every record of the loggers it is attached to, at every level, and reports a canary in
    its message, arguments or exception text (records below WARNING are never shown otherwise)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format: check them as they are
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r} {record.exc_info[1]}"
        hit = find_canary(text)
        if hit:
            _LEAKS.append(f"logger {record.name} ({record.levelname}) recorded {hit}")


def _watch_logs() -> None:
    """Every record of the package's loggers and httpx's, DEBUG included."""
    watch = _CanaryLogWatch(logging.DEBUG)
    for name in ("ai_connector", "httpx"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(watch)


def pytest_configure(config: pytest.Config) -> None:
    _watch_api_answers()
    _watch_logs()


@pytest.fixture(autouse=True)
def _no_canary_escapes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test when a canary reached an API answer or the stored plaintext of its tmp_path."""
    _LEAKS.clear()
    # Asked for before the test runs, so tmp_path is torn down after this check.
    root: Path | None = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    leaks = list(_LEAKS)
    if root is not None:
        for pattern in STORED_PLAINTEXT:
            for path in root.rglob(pattern):
                if path.is_file():
                    hit = find_canary(path.read_bytes())
                    if hit:
                        leaks.append(f"{path.relative_to(root)} stores {hit} in plaintext")
    if leaks:
        pytest.fail("canary secret escaped: " + "; ".join(leaks), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A phase that passed fails when its logs, output or error texts hold a canary."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.passed:
        return
    for name, text in report.sections:  # "Captured stdout call", "Captured log setup", ...
        if not name.endswith(" " + report.when):
            continue
        hit = find_canary(text)
        if hit:
            report.outcome = "failed"
            report.longrepr = f"canary secret escaped into the {report.when} phase's logs or output: {hit}"
            return
