"""The suite-wide canary check (tests/conftest.py) fails a test for each way a secret escapes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]

LEAKY_TESTS = """
import logging, sys
import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from canaries import canary_secret

SECRET = canary_secret("inner")

def test_a_log_line():
    logging.getLogger("ai_connector.x").warning("calling with %s", SECRET)

def test_a_debug_log_line():
    logging.getLogger("ai_connector.provider.x").debug("headers %s", {"authorization": SECRET})

def test_stdout():
    print("key:", SECRET)

def test_stderr():
    sys.stderr.write(SECRET)

async def test_an_api_answer():
    app = FastAPI()
    app.get("/")(lambda: PlainTextResponse("echo " + SECRET))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/")).status_code == 200

def test_stored_plaintext(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "audit.log").write_text('{"message": "%s"}' % SECRET)

def test_clean(tmp_path):
    (tmp_path / "connectors.db").write_text("ciphertext only")
    logging.getLogger("ai_connector.x").warning("calling with [REDACTED]")
"""


def test_each_escape_route_fails_its_test(pytester: pytest.Pytester) -> None:
    for name in ("conftest.py", "canaries.py"):
        shutil.copy(TESTS / name, pytester.path / name)
    pytester.makepyfile(test_leaks=LEAKY_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_mode=auto")
    # The API, stored-plaintext and log-record checks run at teardown: their tests pass, then error
    # (a log line also fails its call phase, as the captured log shows it).
    result.assert_outcomes(passed=3, failed=4, errors=4)
    text = result.stdout.str()
    assert "canary secret escaped into the call phase's logs or output" in text
    assert "answered with sk-canary-inner-" in text
    assert "audit.log stores sk-canary-inner-" in text
    assert "logger ai_connector.provider.x (DEBUG) recorded sk-canary-inner-" in text
