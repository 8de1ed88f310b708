"""End to end with the real OpenAI plugin against its wire-exact fake: the README flow of the page —
name a connector, pick OpenAI, fill Settings and Authentication, Save & test, then use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_connector.host.service import ConnectorService
from ai_connector.manager import load_registry
from ai_connector.testing.fakeserver import FakeServer
from ai_connector.types import FailureKind

openai_plugin = pytest.importorskip("ai_connector_openai")
openai_testing = pytest.importorskip("ai_connector_openai.testing")

SECRET = "sk-proj-canary-e2e-0a1b2c3d4e5f6789"
HELLO = {"body": {"messages": [{"role": "user", "content": "Say hello"}]}}


@pytest.fixture
def openai_server():
    with FakeServer() as server:
        openai_testing.serve_chat(server, ["Hello", " from", " OpenAI"])
        yield server


@pytest.fixture
async def openai_service(settings):
    registry = load_registry(entry_points=False, plugins=[("openai", openai_plugin)])
    svc = await ConnectorService.open(settings, registry=registry)
    yield svc
    await svc.aclose()


def openai_body(base_url: str, secret: str = SECRET) -> dict:
    provider_config, provider_secrets = openai_testing.connector(base_url, secret=secret)
    return {
        "name": "OpenAI",
        "connector_type_id": ".inference",
        "config": {
            "provider": "openai",
            "taskType": "chat_completion",
            "inferenceId": "openai-chat-1",
            "providerConfig": provider_config,
            "contextWindowLength": 128000,
        },
        "secrets": {"providerSecrets": provider_secrets},
    }


async def test_save_and_test_then_run_an_openai_connector(openai_service, openai_server):
    created = await openai_service.create(openai_body(openai_server.url), connector_id="openai-1")
    assert created["is_missing_secrets"] is False and "secrets" not in created
    result = await openai_service.test("openai-1")
    assert result.ok, result.message
    assert openai_server.last.headers["authorization"] == f"Bearer {SECRET}"
    answer = await openai_service.execute("openai-1", "unified_completion", HELLO)
    assert answer["status"] == "ok"
    assert answer["data"]["choices"][0]["message"]["content"] == "Hello from OpenAI"
    chunks = [c async for c in openai_service.stream("openai-1", HELLO)]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello from OpenAI"
    await openai_service.aclose()
    for path in Path(openai_service.settings.home).rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


async def test_a_wrong_openai_key_fails_the_test_without_showing_it(openai_service):
    with FakeServer() as server:
        server.add("POST", "/v1/chat/completions", openai_testing.invalid_api_key_response())
        wrong = "sk-proj-wrong-canary-99887766554433"
        await openai_service.create(openai_body(server.url, secret=wrong), connector_id="bad")
        result = await openai_service.test("bad")
    assert not result.ok and result.failure is FailureKind.CREDENTIALS
    assert wrong not in result.message
    assert (await openai_service.details("bad"))["last_test"]["failure"] == "credentials"
