"""End-to-end helpers (fixtures in conftest.py): a real `ai-connector serve` subprocess (temp
AI_CONNECTOR_HOME, a free port on 127.0.0.1), the OpenAI plugin's wire-exact fake as the provider,
and Debian's Chromium driven by Playwright through `executable_path` (no browser download, ever).

Every page a test opens fails the test on a console error or a refused request (a Content-Security-
Policy violation included), and screenshots of the main states go to `tests/e2e/screenshots/`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import playwright.sync_api as playwright_sync  # the `test` extra: these tests never skip
import pytest

SCREENSHOTS = Path(__file__).parent / "screenshots"
GOOD_KEY = "sk-e2e-good-key-0123456789abcdef"
ALL_KEY = "e2e-all-key-0123456789"
READ_KEY = "e2e-read-key-0123456789"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def chromium_path() -> str:
    """Debian's chromium (what `.ci/run` installs)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium is not installed: apt-get install chromium (see .ci/run)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`ai-connector serve` in a subprocess, on a free port, with its own data directory."""

    def __init__(self, home: Path, env: Mapping[str, str] | None = None, python: str | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECTOR_")}
        self.env = {**clean, "AI_CONNECTOR_HOME": str(home), **(env or {})}
        self.python = python or sys.executable
        self.log = home.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        cmd = [
            self.python,
            "-m",
            "ai_connector.cli",
            "serve",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90  # generous: the machine is shared and loaded
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"ai-connector serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"ai-connector serve did not answer within 90 s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, key: str = ALL_KEY) -> httpx.Client:
        """A client on the host's HTTP API with this key (for setting up and checking state)."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"ApiKey {key}", "kbn-xsrf": "e2e"}, timeout=60
        )


class PageProblems:
    """Console errors and failed requests seen by a page: a test ends with none."""

    def __init__(self, page: object, origin: str) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on(
            "requestfailed",
            lambda r: self.errors.append(f"request failed: {r.url} {r.failure}"),
        )


# Console lines the browser writes for answers the page expects and shows (a 401 at a wrong key,
# a 400 with field errors): the page handles them, so they are not problems.
_EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (400|401)")


def expected_console_line(line: str) -> bool:
    """A console line for an answer the page expects and shows (not a problem)."""
    return _EXPECTED.search(line) is not None


def shot(page: object, name: str) -> Path:
    """Save a full-page screenshot of the current state as screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: object, key: str = ALL_KEY) -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_label("API key", exact=True).press("Enter")
    playwright_sync.expect(page.locator("#connectors")).to_be_visible()
