"""Helpers shared by the API tests: keys, headers, connector bodies, audit lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from api_fakes import CANARY

from ai_connector.testing import FakeServer

ALL_KEY = "all-key-0123456789abcdef"
READ_KEY = "read-key-0123456789abcdef"
ENCRYPTION_KEY = "k" * 40


def auth(key: str = ALL_KEY, *, xsrf: bool = True) -> dict[str, str]:
    """Headers of a caller with `key`; `xsrf` adds the kbn-xsrf header mutating calls need."""
    headers = {"Authorization": f"ApiKey {key}"}
    if xsrf:
        headers["kbn-xsrf"] = "true"
    return headers


ALL = auth(ALL_KEY)
READ = auth(READ_KEY)


def connector_body(server: FakeServer, *, name: str = "My fake", task: str = "chat_completion", **extra: Any):
    """A Kibana create body for the fake provider aimed at the FakeServer."""
    config: dict[str, Any] = {
        "provider": "fake",
        "taskType": task,
        "inferenceId": f"fake-{task}-1",
        "providerConfig": {"url": server.url, "model_id": "fake-model"},
    }
    config.update(extra.pop("config", {}))
    return {
        "name": name,
        "connector_type_id": ".inference",
        "config": config,
        "secrets": {"providerSecrets": {"api_key": CANARY}},
        **extra,
    }


def assert_no_secret(response: httpx.Response) -> None:
    assert CANARY not in response.text


def audit_lines(home: Path) -> list[dict[str, Any]]:
    from ai_connector.host.audit import flush_audit_logs

    flush_audit_logs()  # execute/get/list lines wait in a buffer (at most audit_flush_interval)
    path = home / "audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class LiveApp:
    """The API app on a real uvicorn server on 127.0.0.1 (a thread), on the HTTP protocol `serve`
    runs (`ai_connector.api.wire`), for client-disconnect tests."""

    def __init__(self, app: Any) -> None:
        import socket

        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._server: Any = None
        self._thread: Any = None

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LiveApp:
        import threading
        import time

        import uvicorn

        from ai_connector.api.wire import http_protocol

        config = uvicorn.Config(
            self.app, log_level="critical", access_log=False, lifespan="on", http=http_protocol()
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None
        self._thread = threading.Thread(target=lambda: self._server.run(sockets=[self._sock]), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "the API server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def sse_data(text: str) -> list[Any]:
    """The `data:` payloads of an SSE body, JSON-decoded (`[DONE]` kept as the string)."""
    out: list[Any] = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            payload = block[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out
