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


class InProcessHosts:
    """Services on the API app in this process (httpx's ASGI transport), closed together."""

    def __init__(self) -> None:
        self._opened: list[tuple[httpx.AsyncClient, Any]] = []

    async def open(self, settings: Any) -> tuple[httpx.AsyncClient, Any]:
        """(client, service) for `settings`, with the built-in providers."""
        from ai_connector.api import create_app
        from ai_connector.host.service import ConnectorService
        from connector_documents import builtin_registry

        service = await ConnectorService.open(settings, registry=builtin_registry())
        transport = httpx.ASGITransport(app=create_app(service))
        self._opened.append((httpx.AsyncClient(transport=transport, base_url="http://host"), service))
        return self._opened[-1]

    async def aclose(self) -> None:
        for client, service in self._opened:
            await client.aclose()
            await service.aclose()


def host_settings(home: Path, **env: str) -> Any:
    """HostSettings for `home` with the suite's keys; `env` adds AI_CONNECTOR_* settings."""
    from ai_connector.host.settings import HostSettings

    base = {
        "AI_CONNECTOR_HOME": str(home),
        "AI_CONNECTOR_API_KEYS": f"{ALL_KEY}:all,{READ_KEY}:read",
        "AI_CONNECTOR_ENCRYPTION_KEY": ENCRYPTION_KEY,
    }
    return HostSettings.load(env={**base, **env})
