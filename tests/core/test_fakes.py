"""One fake-server API for every provider's fake, and the command that serves one on a port."""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys

import httpx
import pytest

from ai_connector.testing import FakeResponse
from ai_connector.testing.fakes import ProviderFake

FAKES = ["openai", "azureopenai", "anthropic", "elastic", "amazonbedrock", "googlevertexai", "googleaistudio"]


@pytest.mark.parametrize("provider_id", FAKES)
def test_every_provider_ships_the_same_fake_api(provider_id: str) -> None:
    fake_cls = importlib.import_module(f"ai_connector_{provider_id}.testing").FAKE
    assert issubclass(fake_cls, ProviderFake) and fake_cls.provider_id == provider_id
    with fake_cls(api_key="k-123") as fake:
        settings, secrets = fake.connector(
            "text_embedding" if provider_id == "googleaistudio" else "chat_completion"
        )
        assert fake.url.startswith("http://127.0.0.1:") and fake.requests == []
        assert fake.url in json.dumps(settings) and secrets


def test_a_queued_failure_answers_the_next_requests_then_the_routes_again() -> None:
    fake_cls = importlib.import_module("ai_connector_openai.testing").FAKE
    with fake_cls(api_key="k-123") as fake:
        fake.fail(503, times=2)
        fake.fail(FakeResponse.json({"error": {"message": "slow"}}, status=429))
        headers = {"authorization": "Bearer k-123"}
        statuses = [httpx.get(fake.url + "/v1/models", headers=headers).status_code for _ in range(4)]
        assert statuses == [503, 503, 429, 200]
        assert len(fake.requests) == 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_fake_runs_on_a_port_for_trying_the_host() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_connector.testing", "openai", "--port", str(port), "--api-key", "k-try"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        printed = json.loads(proc.stdout.readline())
        settings, secrets = printed["providerConfig"], printed["providerSecrets"]
        assert settings["url"] == f"http://127.0.0.1:{port}/v1/chat/completions" and secrets == {
            "api_key": "k-try"
        }
        body = {"model": settings["model_id"], "messages": [{"role": "user", "content": "Hi"}]}
        answer = httpx.post(settings["url"], json=body, headers={"authorization": "Bearer k-try"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"]
        refused = httpx.post(settings["url"], json=body, headers={"authorization": "Bearer nope"}, timeout=30)
        assert refused.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
