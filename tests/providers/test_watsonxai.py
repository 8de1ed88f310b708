"""The `watsonxai` provider against its wire-exact fake of watsonx.ai and IBM Cloud IAM: ES's fields,
the IAM exchange and its cache, each task type's wire (streaming included), watsonx's errors typed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import ai_connector_watsonxai as plugin
import ai_connector_watsonxai.testing as wx_testing
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    RerankRequest,
    StreamInterruptedError,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector_watsonxai.testing import (
    API_VERSION,
    PROJECT_ID,
    FakeWatsonx,
    chat_stream,
    iam_error,
)

CANARY = "canary-watsonx-apikey-3f9a1c2e7b"
PROVIDER = plugin.PROVIDER
TASKS = [TaskType.TEXT_EMBEDDING, TaskType.COMPLETION, TaskType.CHAT_COMPLETION, TaskType.RERANK]


@pytest.fixture(autouse=True)
def fresh_tokens() -> Iterator[None]:
    plugin.TOKENS.clear()
    yield
    plugin.TOKENS.clear()


@pytest.fixture
def wx(server: FakeServer) -> FakeWatsonx:
    return FakeWatsonx(server, api_key=CANARY)


def endpoint(
    wx: FakeWatsonx, task: TaskType, *, secret: str = CANARY, **task_settings: Any
) -> InferenceEndpoint:
    settings, _ = wx_testing.connector(wx.server.url, task.value, secret=secret)
    return InferenceEndpoint(
        inference_id="wx",
        task_type=task,
        settings=settings,
        secrets=Secrets({"api_key": secret}),
        task_settings=task_settings,
    )


@asynccontextmanager
async def context(wx: FakeWatsonx) -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(
            client=client,
            provider_id="watsonxai",
            redactor=Redactor([CANARY]),
            host_settings={"iam_url": wx.iam_url},
        )


async def call(wx: FakeWatsonx, task: TaskType, ep: InferenceEndpoint | None = None) -> Any:
    ep = ep or endpoint(wx, task)
    async with context(wx) as ctx:
        if task is TaskType.CHAT_COMPLETION:
            request = ChatRequest(messages=({"role": "user", "content": "Hi"},), max_tokens=20)
            return [c async for c in PROVIDER.chat_completion_stream(ep, request, ctx)]
        if task is TaskType.COMPLETION:
            return await PROVIDER.completion(ep, CompletionRequest(input="What is watsonx?"), ctx)
        if task is TaskType.TEXT_EMBEDDING:
            return await PROVIDER.text_embedding(ep, EmbeddingRequest(input=["a cat", "a dog"]), ctx)
        return await PROVIDER.rerank(
            ep, RerankRequest(query="star wars", input=["luke", "star wars", "leia"]), ctx
        )


def test_declares_es_configuration() -> None:
    # IbmWatsonxService.Configuration (x-pack/plugin/inference/.../ibmwatsonx/IbmWatsonxService.java).
    assert PROVIDER.id == "watsonxai" and PROVIDER.name == "IBM watsonx"
    assert PROVIDER.task_types == set(TASKS)
    conf = service_descriptor(PROVIDER)["configurations"]
    assert conf["api_version"]["label"] == "API Version" and conf["api_version"]["required"]
    assert conf["api_version"]["description"] == "The IBM watsonx API version ID to use."
    assert conf["project_id"]["label"] == "Project ID" and conf["project_id"]["required"]
    assert conf["url"]["label"] == "URL" and conf["url"]["required"] and not conf["url"]["updatable"]
    assert conf["model_id"]["label"] == "Model ID" and conf["model_id"]["required"]
    assert conf["max_input_tokens"]["label"] == "Maximum Input Tokens"
    assert conf["max_input_tokens"]["supported_task_types"] == ["text_embedding"]
    assert conf["api_key"]["required"] and conf["api_key"]["sensitive"]
    assert PROVIDER.default_requests_per_minute[TaskType.CHAT_COMPLETION] == 120  # SPEC CommonTypes.ts


def test_urls_are_the_regional_host_and_iam() -> None:
    ep = InferenceEndpoint(
        inference_id="wx",
        task_type=TaskType.CHAT_COMPLETION,
        settings={
            "url": "us-south.ml.cloud.ibm.com",
            "api_version": API_VERSION,
            "project_id": "p",
            "model_id": "m",
        },
    )
    assert PROVIDER.urls is not None
    assert PROVIDER.urls(ep, {}) == [
        "https://us-south.ml.cloud.ibm.com/ml/v1/text/chat",
        "https://iam.cloud.ibm.com/identity/token",
    ]


async def test_the_iam_token_is_exchanged_once_and_cached(wx: FakeWatsonx, server: FakeServer) -> None:
    await call(wx, TaskType.TEXT_EMBEDDING)
    await call(wx, TaskType.TEXT_EMBEDDING)
    assert wx.exchanges == 1
    grant = server.requests[0]
    assert (
        grant.path == "/identity/token"
        and grant.headers["content-type"] == "application/x-www-form-urlencoded"
    )
    assert b"grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey" in grant.body
    used = server.requests[-1].headers["authorization"]
    assert used.startswith("Bearer fake-iam-token-1-")


async def test_a_refused_token_is_forgotten(wx: FakeWatsonx, server: FakeServer) -> None:
    await call(wx, TaskType.TEXT_EMBEDDING)
    wx.tokens.clear()  # revoked
    with pytest.raises(AuthenticationError):
        await call(wx, TaskType.TEXT_EMBEDDING)
    assert len(await call(wx, TaskType.TEXT_EMBEDDING)) == 2
    assert wx.exchanges == 2


async def test_text_embedding_wire(wx: FakeWatsonx, server: FakeServer) -> None:
    vectors = await call(wx, TaskType.TEXT_EMBEDDING)
    assert len(vectors) == 2 and vectors[0][1] == pytest.approx(-0.0271)
    sent = server.requests[-1]
    assert sent.path == "/ml/v1/text/embeddings" and sent.query == {"version": API_VERSION}
    assert sent.json() == {
        "inputs": ["a cat", "a dog"],
        "model_id": "ibm/slate-30m-english-rtrvr",
        "project_id": PROJECT_ID,
    }


async def test_completion_wire(wx: FakeWatsonx, server: FakeServer) -> None:
    assert await call(wx, TaskType.COMPLETION) == ["Hello from watsonx"]
    body = server.requests[-1].json()
    assert server.requests[-1].path == "/ml/v1/text/chat"
    assert body["model_id"] == "ibm/granite-3-8b-instruct" and body["project_id"] == PROJECT_ID
    assert body["messages"] == [{"role": "user", "content": "What is watsonx?"}] and "stream" not in body


async def test_chat_stream_wire(wx: FakeWatsonx, server: FakeServer) -> None:
    chunks = await call(wx, TaskType.CHAT_COMPLETION)
    assert chunks[0].role == "assistant" and "".join(c.content or "" for c in chunks) == "Hello from watsonx"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].is_usage_only and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12
    sent = server.requests[-1]
    assert sent.path == "/ml/v1/text/chat_stream" and sent.query == {"version": API_VERSION}
    assert sent.json()["max_tokens"] == 20 and sent.json()["model_id"] == "ibm/granite-3-8b-instruct"


async def test_rerank_wire(wx: FakeWatsonx, server: FakeServer) -> None:
    results = await call(
        wx, TaskType.RERANK, endpoint(wx, TaskType.RERANK, truncate_input_tokens=256, top_n=2)
    )
    assert [r.index for r in results] == [1, 0] and results[0].text == "star wars"
    body = server.requests[-1].json()
    assert server.requests[-1].path == "/ml/v1/text/rerank"
    assert body["inputs"] == [{"text": "luke"}, {"text": "star wars"}, {"text": "leia"}]
    assert body["parameters"] == {
        "return_options": {"inputs": True, "top_n": 2},
        "truncate_input_tokens": 256,
    }


async def test_iam_refusing_the_key_is_a_credentials_error(wx: FakeWatsonx) -> None:
    with pytest.raises(AuthenticationError) as info:
        await call(
            wx, TaskType.COMPLETION, endpoint(wx, TaskType.COMPLETION, secret="canary-not-the-key-0000")
        )
    assert info.value.code == "BXNIM0415E" and "could not be found" in str(info.value)
    assert "canary-not-the-key-0000" not in str(info.value)


async def test_an_error_event_mid_stream_is_typed(wx: FakeWatsonx, server: FakeServer) -> None:
    await call(wx, TaskType.TEXT_EMBEDDING)
    good = chat_stream(["Hel"]).chunks
    assert good is not None
    error = {"errors": [{"code": "downstream_error", "message": "the model stopped"}], "status_code": 500}
    events = [*list(good)[:2], f"id: 3\nevent: error\ndata: {json.dumps(error)}\n\n"]
    server.queue(FakeResponse(chunks=events, content_type="text/event-stream"))
    with pytest.raises(StreamInterruptedError) as info:
        await call(wx, TaskType.CHAT_COMPLETION)
    assert info.value.code == "downstream_error" and "the model stopped" in str(info.value)


async def test_save_and_test(wx: FakeWatsonx) -> None:
    for task in TASKS:
        async with context(wx) as ctx:
            assert (await PROVIDER.test(endpoint(wx, task), ctx)).ok, task
    async with context(wx) as ctx:
        bad = endpoint(wx, TaskType.COMPLETION)
        unknown = InferenceEndpoint(
            inference_id="wx",
            task_type=bad.task_type,
            settings={**bad.settings, "model_id": "no/such"},
            secrets=bad.secrets,
        )
        result = await PROVIDER.test(unknown, ctx)
    assert not result.ok and result.failure is FailureKind.MODEL_NOT_FOUND


class TestContract(ProviderContract):
    provider_id = "watsonxai"
    fake = wx_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return wx_testing.connector(base_url, task_type.value, secret=self.canary)

    def host_settings(self, base_url: str) -> dict[str, Any]:
        return {"iam_url": f"{base_url}/identity/token"}

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        server.add("*", "/.*", iam_error())
