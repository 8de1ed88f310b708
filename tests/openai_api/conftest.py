"""A real `ai-connector serve` in front of the providers' own fakes (`ai_connector_<id>.testing`),
with one chat connector per provider, for the official `openai` SDK to call. One server and one
fake for the whole package; each test re-installs the fakes' default answers, so a test that
overrides one route does not leak into the next."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai_route_helpers import (
    ALL_KEY,
    CANARY,
    CHAT_PROVIDERS,
    ENCRYPTION_KEY,
    PIECES,
    READ_KEY,
    Serve,
    create_connectors,
    free_port,
)

from ai_connector.testing import FakeServer


@pytest.fixture(scope="session")
def start_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """`start_serve(ai_connector_toml="...", **env)` -> a Serve; stopped at the end of the session."""
    started: list[Serve] = []

    def start(ai_connector_toml: str = "", **env: str) -> Serve:
        home = tmp_path_factory.mktemp("serve-home")
        if ai_connector_toml:
            (home / "ai-connector.toml").write_text(ai_connector_toml, encoding="utf-8")
        port = free_port()
        environ = {
            **os.environ,
            "AI_CONNECTOR_HOME": str(home),
            "AI_CONNECTOR_API_KEYS": f"{ALL_KEY}:all,{READ_KEY}:read",
            "AI_CONNECTOR_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "AI_CONNECTOR_MAX_ATTEMPTS": "1",  # a provider's 429/5xx reaches the client at once
            "AI_CONNECTOR_AUDIT_FLUSH_INTERVAL": "0",
            "AI_CONNECTOR_REVALIDATE_INTERVAL": "0",
            **env,
        }
        cmd = [sys.executable, "-c", "from ai_connector.cli import main; main()", "serve"]
        process = subprocess.Popen(
            [*cmd, "--port", str(port), "--log-level", "warning"],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        serve = Serve(
            f"http://127.0.0.1:{port}", home, process, env.get("AI_CONNECTOR_OPENAI_API_PREFIX", "/v1")
        )
        started.append(serve)
        deadline = time.monotonic() + 60  # generous: the machine is shared and loaded
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if httpx.get(serve.url + "/api/status", timeout=2).status_code < 500:
                    return serve
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ai-connector serve did not start"
            time.sleep(0.1)

    yield start
    for serve in started:
        serve.process.terminate()
        try:
            serve.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            serve.process.kill()
            serve.process.wait()
        if serve.process.stderr is not None:
            serve.process.stderr.close()


# ---------------------------------------------------------------------------------------------
# The providers' fakes and the connectors aimed at them


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeServer]:
    from ai_connector_elastic.testing import FakeElasticsearch

    with FakeServer() as server:
        FakeElasticsearch(server, api_key=CANARY)  # the endpoints an EIS connector's save creates
        _install_defaults(server)
        yield server


@pytest.fixture(autouse=True)
def _default_answers(fake: FakeServer) -> None:
    """Every provider's fake streams PIECES (routes added later win, so this undoes overrides)."""
    fake.reset()
    _install_defaults(fake)


def _install_defaults(fake: FakeServer) -> None:
    from ai_connector_openai.testing import OpenAIFake

    OpenAIFake(fake, api_key=CANARY, reply=PIECES).install()  # its embeddings; chat comes next
    for provider_id in CHAT_PROVIDERS:
        testing = importlib.import_module(f"ai_connector_{provider_id}.testing")
        testing.serve_chat(fake, PIECES, prompt_tokens=5, completion_tokens=7)


@pytest.fixture(scope="session")
def serve(start_serve: Any, fake: FakeServer) -> Serve:
    """The package's `serve`, its connectors created through Kibana's API."""
    server = start_serve()
    create_connectors(server, fake)
    return server
