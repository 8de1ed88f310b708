"""The `alibabacloud-ai-search` provider against its wire-exact fake of the AI Search Open Platform:
ES's fields, each task type's URL and body, the envelope read, the platform's error codes typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from provider_error_kinds import assert_kind, error_cases

import ai_connector_alibabacloud_ai_search as plugin
import ai_connector_alibabacloud_ai_search.testing as ais_testing
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.http import build_client
from ai_connector.plugin import (
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    ProviderError,
    RateLimitError,
    RerankRequest,
    SparseEmbeddingRequest,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector_alibabacloud_ai_search.testing import FakeAISearch, search_error

CANARY = "canary-aisearch-key-0c7e2d41"
PROVIDER = plugin.PROVIDER
TASKS = [TaskType.TEXT_EMBEDDING, TaskType.SPARSE_EMBEDDING, TaskType.RERANK, TaskType.COMPLETION]
WS = "/v3/openapi/workspaces/default"


@pytest.fixture
def fake(server: FakeServer) -> FakeAISearch:
    return FakeAISearch(server, api_key=CANARY)


def endpoint(server: FakeServer, task: TaskType, **task_settings: Any) -> InferenceEndpoint:
    settings, secrets = ais_testing.connector(server.url, task.value, secret=CANARY)
    return InferenceEndpoint(
        inference_id="ais",
        task_type=task,
        settings=settings,
        secrets=Secrets(secrets),
        task_settings=task_settings,
    )


@asynccontextmanager
async def context() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id=PROVIDER.id, redactor=Redactor([CANARY]))


async def call(task: TaskType, ep: InferenceEndpoint, request: Any = None) -> Any:
    defaults = {
        TaskType.TEXT_EMBEDDING: EmbeddingRequest(input=["a cat", "a dog"], input_type="search"),
        TaskType.SPARSE_EMBEDDING: SparseEmbeddingRequest(input=["the quick fox"]),
        TaskType.RERANK: RerankRequest(query="star wars", input=["luke", "star wars", "leia"]),
        TaskType.COMPLETION: CompletionRequest(input="Hello"),
    }
    async with context() as ctx:
        return await PROVIDER.call_for(task)(ep, request or defaults[task], ctx)


def test_declares_es_configuration() -> None:
    # AlibabaCloudSearchService.Configuration (x-pack/plugin/inference/.../alibabacloudsearch/).
    assert PROVIDER.id == "alibabacloud-ai-search" and PROVIDER.name == "AlibabaCloud AI Search"
    assert PROVIDER.task_types == set(TASKS)
    conf = service_descriptor(PROVIDER)["configurations"]
    assert conf["service_id"]["label"] == "Project ID"  # sic, as ES labels it
    assert conf["service_id"]["description"] == "The name of the model service to use for the {infer} task."
    assert conf["host"]["label"] == "Host" and conf["host"]["description"].startswith(
        "The name of the host address used for the {infer} task. You can find the host address at "
        "https://opensearch.console.aliyun.com/cn-shanghai/rag/api-key[ the API keys section]"
    )
    assert conf["http_schema"]["label"] == "HTTP Schema" and conf["http_schema"]["required"]
    assert conf["workspace"]["description"] == "The name of the workspace used for the {infer} task."
    assert conf["api_key"]["description"] == "A valid API key for the AlibabaCloud AI Search API."
    assert conf["api_key"]["required"] and conf["api_key"]["sensitive"] and conf["api_key"]["updatable"]
    assert conf["rate_limit.requests_per_minute"]["label"] == "Rate Limit"
    assert all(c["required"] for k, c in conf.items() if k in ("service_id", "host", "workspace"))
    assert PROVIDER.default_requests_per_minute[TaskType.RERANK] == 1000  # SPEC CommonTypes.ts


async def test_text_embedding_wire(fake: FakeAISearch, server: FakeServer) -> None:
    vectors = await call(TaskType.TEXT_EMBEDDING, endpoint(server, TaskType.TEXT_EMBEDDING))
    assert len(vectors) == 2 and vectors[1][1] == pytest.approx(-0.0212)
    sent = server.requests[-1]
    assert sent.path == f"{WS}/text-embedding/ops-text-embedding-001"
    assert sent.headers["authorization"] == f"Bearer {CANARY}"
    assert sent.json() == {"input": ["a cat", "a dog"], "input_type": "query"}


async def test_sparse_embedding_wire(fake: FakeAISearch, server: FakeServer) -> None:
    [by_id] = await call(
        TaskType.SPARSE_EMBEDDING, endpoint(server, TaskType.SPARSE_EMBEDDING, input_type="ingest")
    )
    assert len(by_id) == 3 and all(k.isdigit() for k in by_id)
    assert server.requests[-1].json() == {"input": ["the quick fox"], "input_type": "document"}
    ep = endpoint(server, TaskType.SPARSE_EMBEDDING, return_token=True)
    [by_text] = await call(TaskType.SPARSE_EMBEDDING, ep)
    assert set(by_text) == {"the", "quick", "fox"} and by_text["quick"] == pytest.approx(0.2)
    assert server.requests[-1].json() == {"input": ["the quick fox"], "return_token": True}
    assert server.requests[-1].path == f"{WS}/text-sparse-embedding/ops-text-sparse-embedding-001"


async def test_rerank_wire(fake: FakeAISearch, server: FakeServer) -> None:
    results = await call(TaskType.RERANK, endpoint(server, TaskType.RERANK))
    assert [r.index for r in results] == [1, 0, 2] and results[0].text == "star wars"
    assert server.requests[-1].json() == {"query": "star wars", "docs": ["luke", "star wars", "leia"]}
    request = RerankRequest(query="star wars", input=["luke", "star wars"], top_n=1, return_documents=False)
    [best] = await call(TaskType.RERANK, endpoint(server, TaskType.RERANK), request)
    assert best.index == 1 and best.text is None


async def test_completion_wire(fake: FakeAISearch, server: FakeServer) -> None:
    ep = endpoint(server, TaskType.COMPLETION, parameters={"temperature": 0.2})
    assert await call(TaskType.COMPLETION, ep) == ["Qwen says hello."]
    assert server.requests[-1].path == f"{WS}/text-generation/ops-qwen-turbo"
    assert server.requests[-1].json() == {
        "messages": [{"role": "user", "content": "Hello"}],
        "parameters": {"temperature": 0.2},
    }


# The platform's status-code table (AI Search Open Platform "Status codes" page).
@pytest.mark.parametrize("task", TASKS)
# The kinds beyond the cross-provider table (test_error_kinds.py holds the others).
@error_cases(
    invalid=search_error(400, "InvalidParameter", "Required parameter(s) missing or invalid"),
)
async def test_error_kinds(
    fake: FakeAISearch, server: FakeServer, task: TaskType, answer: FakeResponse, expected: Any
) -> None:
    server.queue(answer)
    with pytest.raises(ProviderError) as info:
        await call(task, endpoint(server, task))
    assert_kind(info.value, expected, provider=PROVIDER.id, secret=CANARY)


async def test_a_rate_limit_keeps_the_retry_hint(fake: FakeAISearch, server: FakeServer) -> None:
    limited = search_error(429, "Throttling", "Requests throttling triggered.")
    limited.headers = [("Retry-After", "2")]
    server.queue(limited)
    with pytest.raises(RateLimitError) as info:
        await call(TaskType.RERANK, endpoint(server, TaskType.RERANK))
    assert info.value.retry_after == 2 and info.value.code == "Throttling"


async def test_the_fake_refuses_an_unknown_service(fake: FakeAISearch, server: FakeServer) -> None:
    ep = endpoint(server, TaskType.COMPLETION)
    unknown = InferenceEndpoint(
        inference_id="x",
        task_type=ep.task_type,
        settings={**ep.settings, "service_id": "qwen-nope"},
        secrets=ep.secrets,
    )
    async with context() as ctx:
        result = await PROVIDER.test(unknown, ctx)
        assert not result.ok and result.failure is FailureKind.MODEL_NOT_FOUND
        for task in TASKS:
            assert (await PROVIDER.test(endpoint(server, task), ctx)).ok, task


class TestContract(ProviderContract):
    provider_id = "alibabacloud-ai-search"
    fake = ais_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return ais_testing.connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        server.add(
            "*", "/.*", search_error(401, "InvalidApiKey", "Invalid api key, please check your api key.")
        )
