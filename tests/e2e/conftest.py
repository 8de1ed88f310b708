"""Fixtures of the end-to-end tests: the fake provider, a `serve` host, one browser per module, and
fresh pages that fail their test on any console error or refused request (see e2e_harness)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from e2e_harness import (
    ALL_KEY,
    DESKTOP,
    GOOD_KEY,
    PHONE,
    READ_KEY,
    PageProblems,
    ServeProcess,
    chromium_path,
    expected_console_line,
    playwright_sync,
)

import ai_connector_openai.testing as openai_testing
from ai_connector.testing import FakeServer


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServer]:
    """The OpenAI fake, accepting GOOD_KEY; `/v1/...` answers at once."""
    with FakeServer() as server:
        openai_testing.OpenAIFake(server, api_key=GOOD_KEY).install()
        yield server


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A host with an `all` and a `read` key configured."""
    home = tmp_path_factory.mktemp("e2e") / "home"
    proc = ServeProcess(home, {"AI_CONNECTOR_API_KEYS": f"{ALL_KEY}:all,{READ_KEY}:read"}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


def strict_csp(route: object) -> None:
    response = route.fetch()
    headers = dict(response.headers)
    headers.setdefault("content-security-policy", "default-src 'self'")
    route.fulfill(response=response, headers=headers)


@pytest.fixture
def new_page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """`new_page(url, phone=False)`: a fresh context (no stored key) on the page; asserts at the end
    that nothing failed in it. The page itself (`/`) is held to `default-src 'self'` when the host
    sends no Content-Security-Policy of its own, so an inline script or style would fail the test."""
    contexts: list[tuple[object, PageProblems]] = []

    def open_page(url: str, *, phone: bool = False) -> object:
        context = browser.new_context(viewport=PHONE if phone else DESKTOP)
        page = context.new_page()
        page.set_default_timeout(30_000)  # generous: a loaded machine
        page.route(re.compile(r"^http://127\.0\.0\.1:\d+/(\?.*)?$"), strict_csp)
        problems = PageProblems(page, url)
        contexts.append((context, problems))
        page.goto(url)
        return page

    yield open_page
    problems = [e for _, p in contexts for e in p.errors if not expected_console_line(e)]
    for context, _ in contexts:
        context.close()
    assert not problems, problems
