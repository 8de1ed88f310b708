"""`ai-connector serve` in a child process on a free 127.0.0.1 port, for tests that need the real
server (its HTTP parser, its connection handling) rather than an in-process ASGI transport."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ALL_KEY = "security-all-key-0123456789"
READ_KEY = "security-read-key-0123456789"
ENCRYPTION_KEY = "e" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedHost:
    """A running `ai-connector serve`; `env` adds AI_CONNECTOR_* settings to the defaults."""

    def __init__(self, home: Path, **env: str) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **os.environ,
            "AI_CONNECTOR_HOME": str(home),
            "AI_CONNECTOR_API_KEYS": f"{ALL_KEY}:all,{READ_KEY}:read",
            "AI_CONNECTOR_ENCRYPTION_KEY": ENCRYPTION_KEY,
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServedHost:
        cmd = [sys.executable, "-m", "ai_connector.cli", "serve", "--port", str(self.port)]
        cmd += ["--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.proc.communicate()[1].decode(errors="replace")
            try:
                if httpx.get(self.url + "/api/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ai-connector serve did not start within 60 s"
            time.sleep(0.1)

    def __exit__(self, *exc: Any) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()

    def headers(self, key: str = ALL_KEY) -> dict[str, str]:
        """A caller with `key`, with the kbn-xsrf header mutating calls need."""
        return {"Authorization": f"ApiKey {key}", "kbn-xsrf": "true"}
