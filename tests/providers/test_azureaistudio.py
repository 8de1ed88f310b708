"""The `azureaistudio` provider against its wire-exact fake of Azure AI Studio deployments: ES's
fields, the URL/auth/body per provider and endpoint type, ES's availability rules, errors typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import ai_connector_azureaistudio as plugin
import ai_connector_azureaistudio.testing as studio_testing
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.http import build_client
from ai_connector.plugin import (
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    InferenceEndpoint,
    RerankRequest,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector_azureaistudio.testing import (
    ACCESS_DENIED,
    FakeAzureStudio,
    azure_error,
)

CANARY = "canary-azure-studio-key-64b0e1"
PROVIDER = plugin.PROVIDER
TASKS = [TaskType.TEXT_EMBEDDING, TaskType.COMPLETION, TaskType.RERANK]


@pytest.fixture
def studio(server: FakeServer) -> FakeAzureStudio:
    return FakeAzureStudio(server, api_key=CANARY)


def endpoint(
    server: FakeServer, task: TaskType, *, task_settings: Any = None, **kind: str
) -> InferenceEndpoint:
    settings, secrets = studio_testing.connector(server.url, task.value, secret=CANARY, **kind)
    return InferenceEndpoint(
        inference_id="studio",
        task_type=task,
        settings=settings,
        secrets=Secrets(secrets),
        task_settings=task_settings or {},
    )


@asynccontextmanager
async def context() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id=PROVIDER.id, redactor=Redactor([CANARY]))


async def call(task: TaskType, ep: InferenceEndpoint, request: Any = None) -> Any:
    defaults = {
        TaskType.TEXT_EMBEDDING: EmbeddingRequest(input=["a cat", "a dog"], input_type="ingest"),
        TaskType.COMPLETION: CompletionRequest(input="Hello"),
        TaskType.RERANK: RerankRequest(query="star wars", input=["luke", "star wars", "leia"]),
    }
    async with context() as ctx:
        return await PROVIDER.call_for(task)(ep, request or defaults[task], ctx)


def test_declares_es_configuration() -> None:
    # AzureAiStudioService.Configuration (x-pack/plugin/inference/.../azureaistudio/).
    assert PROVIDER.id == "azureaistudio" and PROVIDER.name == "Azure AI Studio"
    assert PROVIDER.task_types == set(TASKS)
    conf = service_descriptor(PROVIDER)["configurations"]
    assert conf["target"]["label"] == "Target"
    assert conf["target"]["description"] == "The target URL of your Azure AI Studio model deployment."
    assert conf["endpoint_type"]["label"] == "Endpoint Type"
    assert conf["endpoint_type"]["description"] == (
        "Specifies the type of endpoint that is used in your model deployment."
    )
    assert conf["provider"]["description"] == "The model provider for your deployment."
    assert all(
        conf[k]["required"] and not conf[k]["updatable"] for k in ("target", "endpoint_type", "provider")
    )
    assert (
        conf["api_key"]["label"] == "API Key" and conf["api_key"]["required"] and conf["api_key"]["sensitive"]
    )
    assert conf["rate_limit.requests_per_minute"]["label"] == "Rate Limit"
    assert PROVIDER.default_requests_per_minute[TaskType.COMPLETION] == 240  # SPEC CommonTypes.ts


async def test_token_completion_sends_the_raw_key_and_parameters(
    studio: FakeAzureStudio, server: FakeServer
) -> None:
    ep = endpoint(server, TaskType.COMPLETION, task_settings={"temperature": 0.5, "do_sample": True})
    assert await call(TaskType.COMPLETION, ep) == ["Hello from Azure AI Studio."]
    sent = server.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == CANARY
    assert sent.json() == {
        "messages": [{"content": "Hello", "role": "user"}],
        "parameters": {"temperature": 0.5, "do_sample": True, "max_new_tokens": 64},  # ES's default
    }


async def test_realtime_completion_posts_input_data_to_the_target(
    studio: FakeAzureStudio, server: FakeServer
) -> None:
    ep = endpoint(server, TaskType.COMPLETION, endpoint_type="realtime", provider="meta")
    request = CompletionRequest(input="Hi", max_tokens=5)
    assert await call(TaskType.COMPLETION, ep, request) == ["Hello from Azure AI Studio."]
    sent = server.requests[-1]
    assert sent.path == "/score" and sent.headers["authorization"] == f"Bearer {CANARY}"
    assert sent.json() == {
        "input_data": {
            "input_string": [{"content": "Hi", "role": "user"}],
            "parameters": {"max_new_tokens": 5},
        }
    }


async def test_openai_deployments_take_the_target_and_an_api_key_header(
    studio: FakeAzureStudio, server: FakeServer
) -> None:
    ep = endpoint(server, TaskType.TEXT_EMBEDDING, provider="openai")
    vectors = await call(TaskType.TEXT_EMBEDDING, ep)
    sent = server.requests[-1]
    assert len(vectors) == 2 and sent.path == "/openai/deployments/gpt-4o-mini/embeddings"
    assert sent.headers["api-key"] == CANARY and "authorization" not in sent.headers
    assert sent.json() == {"input": ["a cat", "a dog"], "input_type": "document"}
    assert await call(TaskType.COMPLETION, endpoint(server, TaskType.COMPLETION, provider="openai"))


async def test_rerank_wire(studio: FakeAzureStudio, server: FakeServer) -> None:
    results = await call(TaskType.RERANK, endpoint(server, TaskType.RERANK))
    assert [r.index for r in results] == [1, 0, 2] and results[0].text == "star wars"
    assert server.requests[-1].path == "/v1/rerank"
    assert server.requests[-1].json() == {
        "documents": ["luke", "star wars", "leia"],
        "query": "star wars",
        "return_documents": True,
    }
    ep = endpoint(server, TaskType.RERANK, task_settings={"top_n": 1, "return_documents": False})
    [best] = await call(TaskType.RERANK, ep)
    assert best.index == 1 and best.text is None and server.requests[-1].json()["top_n"] == 1


@pytest.mark.parametrize(
    ("task", "kind", "message"),
    [
        (
            TaskType.RERANK,
            {"provider": "openai"},
            "The [rerank] task type for provider [openai] is not available",
        ),
        (
            TaskType.TEXT_EMBEDDING,
            {"provider": "mistral"},
            "The [text_embedding] task type for provider [mistral]",
        ),
        (
            TaskType.TEXT_EMBEDDING,
            {"endpoint_type": "realtime"},
            "The [realtime] endpoint type with [text_embedding] task type for provider [cohere] is not "
            "available",
        ),
    ],
)
async def test_es_availability_rules_refuse_before_any_request(
    studio: FakeAzureStudio, server: FakeServer, task: TaskType, kind: dict[str, str], message: str
) -> None:
    ep = endpoint(server, task, **kind)
    async with context() as ctx:
        assert PROVIDER.on_save is not None
        with pytest.raises(ConfigValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
            await PROVIDER.on_save(ep, ctx, False)
    with pytest.raises(ConfigValidationError):
        await call(task, ep)
    assert server.requests == []


async def test_save_and_test(studio: FakeAzureStudio, server: FakeServer) -> None:
    async with context() as ctx:
        for task in TASKS:
            assert (await PROVIDER.test(endpoint(server, task), ctx)).ok, task
        wrong = InferenceEndpoint(
            inference_id="s",
            task_type=TaskType.COMPLETION,
            settings=endpoint(server, TaskType.COMPLETION, provider="openai").settings,
            secrets=Secrets({"api_key": "canary-wrong-key-000"}),
        )
        result = await PROVIDER.test(wrong, ctx)
    assert not result.ok and result.failure is FailureKind.CREDENTIALS and "Access denied" in result.message


class TestContract(ProviderContract):
    provider_id = "azureaistudio"
    fake = studio_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return studio_testing.connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        server.add("*", "/.*", azure_error(401, "401", ACCESS_DENIED))
