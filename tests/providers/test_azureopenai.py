"""The Azure OpenAI provider against its wire-exact local fake: deployment URLs, api-version, API key
or Entra ID (exactly one), Azure's error bodies, Save & test, and that secrets never leak."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest

import ai_connector_azureopenai as azure_plugin
import ai_connector_azureopenai.testing as azureopenai_testing
from ai_connector.context import CallContext
from ai_connector.errors import UnreachableError
from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    StreamInterruptedError,
    TaskType,
    Usage,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets, thaw
from ai_connector.validation import check_provider_schemas, effective_schema
from ai_connector_azureopenai import testing as fake
from ai_connector_openai import testing as openai_fake

CANARY = "canary-secret-0000"
TOKEN = "canary-entra-token-1111"
CHAT, COMPLETION, EMBED = TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING
HELLO = ChatRequest(messages=({"role": "user", "content": "Hello world"},))
CHAT_PATH = "/openai/deployments/gpt-4o/chat/completions"
EMBED_PATH = "/openai/deployments/text-embedding-3-small/embeddings"


@pytest.fixture
def azure(server: FakeServer) -> fake.AzureOpenAIFake:
    return fake.AzureOpenAIFake(server, api_key=CANARY, entra_token=TOKEN).install()


@pytest.fixture
async def ctx() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id="azureopenai", redactor=Redactor([CANARY, TOKEN]))


def endpoint(
    base_url: str, task: TaskType = CHAT, *, secrets: dict[str, str] | None = None, **settings: Any
) -> InferenceEndpoint:
    config, default_secrets = fake.connector(base_url, task.value, secret=CANARY)
    config.update(settings)
    task_settings = {"user": config.pop("user")} if "user" in config else {}
    headers = config.pop("headers", {})
    return InferenceEndpoint(
        inference_id=f"azureopenai-{task.value}-test",
        task_type=task,
        settings=config,
        secrets=Secrets(default_secrets if secrets is None else secrets),
        task_settings=task_settings,
        headers=headers,
    )


async def chat(ep: InferenceEndpoint, ctx: CallContext, request: ChatRequest = HELLO) -> list[ChatChunk]:
    return [c async for c in azure_plugin.PROVIDER.chat_completion_stream(ep, request, ctx)]


async def run_task(ep: InferenceEndpoint, ctx: CallContext) -> Any:
    if ep.task_type is CHAT:
        return await chat(ep, ctx)
    if ep.task_type is COMPLETION:
        return await azure_plugin.PROVIDER.completion(ep, CompletionRequest(input="What is Elastic?"), ctx)
    return await azure_plugin.PROVIDER.text_embedding(ep, EmbeddingRequest(input=("a", "b")), ctx)


def path_for(task: TaskType) -> str:
    return EMBED_PATH if task is EMBED else CHAT_PATH


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        assert CANARY not in str(text) and TOKEN not in str(text)


# ---------------------------------------------------------------------------------------------
# Declaration


def test_provider_declaration_matches_elasticsearch() -> None:
    p = azure_plugin.PROVIDER
    assert (p.id, p.name) == ("azureopenai", "Azure OpenAI")
    assert p.task_types == {CHAT, COMPLETION, EMBED}
    assert check_provider_schemas(p) == []
    assert set(p.settings_schema["required"]) == {"resource_name", "deployment_id", "api_version"}
    assert all(f["x-sensitive"] for f in p.auth_schema["properties"].values())
    assert p.default_requests_per_minute == {EMBED: 1440, COMPLETION: 120, CHAT: 120}
    assert "dimensions" in effective_schema(p.settings_schema, EMBED)["properties"]
    assert "dimensions" not in effective_schema(p.settings_schema, COMPLETION)["properties"]


@pytest.mark.parametrize(
    ("secrets", "valid"),
    [
        ({"api_key": "k"}, True),
        ({"entra_id": "t"}, True),
        ({"api_key": "k", "entra_id": "t"}, False),
        ({}, False),
    ],
    ids=["api_key", "entra_id", "both", "neither"],
)
def test_the_auth_schema_wants_exactly_one_of_api_key_or_entra_id(
    secrets: dict[str, str], valid: bool
) -> None:
    validator = jsonschema.Draft202012Validator(thaw(azure_plugin.PROVIDER.auth_schema))
    assert validator.is_valid(secrets) is valid


def test_urls_are_the_deployment_endpoints_with_api_version() -> None:
    def ep(task: TaskType, **extra: str) -> InferenceEndpoint:
        settings = {"resource_name": "my-res", "deployment_id": "dep 1", "api_version": "2024-10-21", **extra}
        return InferenceEndpoint(inference_id="x", task_type=task, settings=settings)

    urls = azure_plugin.PROVIDER.urls
    assert urls is not None
    assert list(urls(ep(CHAT), {})) == [
        "https://my-res.openai.azure.com/openai/deployments/dep%201/chat/completions?api-version=2024-10-21"
    ]
    assert list(urls(ep(EMBED, url="https://proxy.example.com/az/"), {})) == [
        "https://proxy.example.com/az/openai/deployments/dep%201/embeddings?api-version=2024-10-21"
    ]


# ---------------------------------------------------------------------------------------------
# Calls


async def test_chat_stream_with_api_key_tolerates_azures_leading_filter_chunk(
    server: FakeServer, azure: fake.AzureOpenAIFake, ctx: CallContext
) -> None:
    ep = endpoint(server.url, user="kibana-user", headers={"X-Trace": "t1", "api-key": "not-this-one"})
    request = ChatRequest(messages=HELLO.messages, model="ignored", max_tokens=10, temperature=0.1)
    chunks = await chat(ep, ctx, request)

    sent = server.last
    assert (sent.method, sent.path, sent.query) == ("POST", CHAT_PATH, {"api-version": "2024-10-21"})
    assert sent.headers["api-key"] == CANARY and "authorization" not in sent.headers
    assert sent.headers["x-trace"] == "t1"
    assert sent.json() == {
        "messages": [{"role": "user", "content": "Hello world"}],
        "max_completion_tokens": 10,
        "temperature": 0.1,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "kibana-user",
    }
    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "Hello there!"
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].is_usage_only
    assert chunks[-1].usage == Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8)


async def test_entra_id_is_sent_as_a_bearer_token(
    server: FakeServer, azure: fake.AzureOpenAIFake, ctx: CallContext
) -> None:
    chunks = await chat(endpoint(server.url, secrets={"entra_id": TOKEN}), ctx)
    assert server.last.headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in server.last.headers
    assert "".join(c.content or "" for c in chunks) == "Hello there!"


async def test_an_older_api_version_gets_max_tokens_and_no_stream_options(
    server: FakeServer, azure: fake.AzureOpenAIFake, ctx: CallContext
) -> None:
    ep = endpoint(server.url, api_version="2024-06-01")
    chunks = await chat(ep, ctx, ChatRequest(messages=HELLO.messages, max_tokens=2))
    body = server.last.json()
    assert server.last.query == {"api-version": "2024-06-01"}
    assert body["max_tokens"] == 2 and "max_completion_tokens" not in body and "stream_options" not in body
    assert "".join(c.content or "" for c in chunks) == "Hello there"
    assert chunks[-1].finish_reason == "length" and all(c.usage is None for c in chunks)


@pytest.mark.parametrize("secrets", [{"api_key": CANARY, "entra_id": TOKEN}, {}], ids=["both", "neither"])
async def test_both_or_neither_credential_is_refused_before_any_request(
    server: FakeServer, ctx: CallContext, secrets: dict[str, str]
) -> None:
    ep = endpoint(server.url, secrets=secrets)
    for task in (CHAT, COMPLETION, EMBED):
        with pytest.raises(ConfigValidationError) as info:
            await run_task(endpoint(server.url, task, secrets=secrets), ctx)
        assert_no_secret(info.value)
    result = await azure_plugin.PROVIDER.test(ep, ctx)
    assert result.failure is FailureKind.CONFIG and server.requests == []


async def test_completion_is_one_chat_call_on_the_deployment(
    server: FakeServer, azure: fake.AzureOpenAIFake, ctx: CallContext
) -> None:
    result = await azure_plugin.PROVIDER.completion(
        endpoint(server.url, COMPLETION, user="u-1"), CompletionRequest(input="What is Elastic?"), ctx
    )
    assert result == ["Hello there!"]
    sent = server.last
    assert (sent.path, sent.query, sent.headers["api-key"]) == (
        CHAT_PATH,
        {"api-version": "2024-10-21"},
        CANARY,
    )
    assert sent.json() == {
        "messages": [{"role": "user", "content": "What is Elastic?"}],
        "n": 1,
        "user": "u-1",
    }


async def test_text_embedding_posts_to_the_embeddings_deployment(
    server: FakeServer, azure: fake.AzureOpenAIFake, ctx: CallContext
) -> None:
    ep = endpoint(server.url, EMBED, dimensions=2, user="u-2")
    vectors = await azure_plugin.PROVIDER.text_embedding(ep, EmbeddingRequest(input=("a", "b")), ctx)
    sent = server.last
    assert (sent.path, sent.query, sent.headers["api-key"]) == (
        EMBED_PATH,
        {"api-version": "2024-10-21"},
        CANARY,
    )
    assert sent.json() == {"input": ["a", "b"], "dimensions": 2, "user": "u-2"}
    assert vectors == [[0.1, 0.11], [0.2, 0.21]]


# ---------------------------------------------------------------------------------------------
# Errors


ERRORS = [
    pytest.param(fake.invalid_key_response(), AuthenticationError, 401, "401", False, None, id="401"),
    pytest.param(
        fake.deployment_not_found_response(),
        ModelNotFoundError,
        404,
        "DeploymentNotFound",
        False,
        None,
        id="404-DeploymentNotFound",
    ),
    pytest.param(
        fake.rate_limit_response(retry_after="60"),
        RateLimitError,
        429,
        "429",
        True,
        60.0,
        id="429-retry-after",
    ),
    pytest.param(
        fake.rate_limit_response(retry_after="60", retry_after_ms="2500"),
        RateLimitError,
        429,
        "429",
        True,
        2.5,
        id="429-retry-after-ms",
    ),
    pytest.param(
        FakeResponse.json(openai_fake.insufficient_quota_response().body, 429),
        RateLimitError,
        429,
        "insufficient_quota",
        False,
        None,
        id="429-insufficient_quota",
    ),
    pytest.param(
        fake.server_error_response(), ProviderServerError, 500, "server_error", True, None, id="500"
    ),
]


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
@pytest.mark.parametrize(("answer", "cls", "status", "code", "retryable", "retry_after"), ERRORS)
async def test_documented_error_bodies_become_typed_errors(
    server: FakeServer,
    ctx: CallContext,
    task: TaskType,
    answer: FakeResponse,
    cls: type[ProviderError],
    status: int,
    code: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    server.add("POST", path_for(task), answer)
    with pytest.raises(cls) as info:
        await run_task(endpoint(server.url, task), ctx)
    err = info.value
    assert (err.status, err.code, err.retryable, err.retry_after) == (status, code, retryable, retry_after)
    assert err.provider == "azureopenai" and err.provider_message and err.provider_message in str(err)
    assert_no_secret(err, repr(err), err.provider_message)


async def test_the_fake_refuses_a_wrong_key_a_wrong_token_and_a_missing_deployment(
    server: FakeServer, azure: fake.AzureOpenAIFake, ctx: CallContext
) -> None:
    with pytest.raises(AuthenticationError, match="Access denied due to invalid subscription key"):
        await chat(endpoint(server.url, secrets={"api_key": "wrong-key-0000"}), ctx)
    with pytest.raises(AuthenticationError):
        await chat(endpoint(server.url, secrets={"entra_id": "wrong-token-0000"}), ctx)
    with pytest.raises(ModelNotFoundError, match="API deployment for this resource does not exist"):
        await chat(endpoint(server.url, deployment_id="nope"), ctx)


@pytest.mark.parametrize("task", [COMPLETION, EMBED], ids=lambda t: t.value)
async def test_malformed_json_body_is_an_invalid_response(
    server: FakeServer, ctx: CallContext, task: TaskType
) -> None:
    server.add("POST", path_for(task), openai_fake.malformed_json_response())
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await run_task(endpoint(server.url, task), ctx)


async def test_malformed_json_in_a_stream_event_is_an_invalid_response(
    server: FakeServer, ctx: CallContext
) -> None:
    events = [*fake.chat_stream_events(["Hi"])[:3], "data: {not json\n\n"]
    server.add("POST", CHAT_PATH, openai_fake.stream_response(events))
    with pytest.raises(InvalidResponseError):
        await chat(endpoint(server.url), ctx)


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
async def test_unreachable_host_is_typed(ctx: CallContext, task: TaskType) -> None:
    with pytest.raises(UnreachableError):
        await run_task(endpoint("http://127.0.0.1:9", task), ctx)


async def test_a_stream_that_breaks_halfway_is_interrupted(server: FakeServer, ctx: CallContext) -> None:
    events = fake.chat_stream_events(["Hel", "lo", " wor", "ld"])
    server.add("POST", CHAT_PATH, openai_fake.stream_response(events, abort_after=4))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError):
        async for chunk in azure_plugin.PROVIDER.chat_completion_stream(endpoint(server.url), HELLO, ctx):
            received.append(chunk)
    assert "".join(c.content or "" for c in received) == "Hello"


async def test_a_mid_stream_error_event_is_interrupted_with_azures_message(
    server: FakeServer, ctx: CallContext
) -> None:
    events = [
        *fake.chat_stream_events(["Hel"])[:3],
        *openai_fake.sse([fake.error_body("500", "Internal error")]),
    ]
    server.add("POST", CHAT_PATH, openai_fake.stream_response(events))
    with pytest.raises(StreamInterruptedError) as info:
        await chat(endpoint(server.url), ctx)
    assert (info.value.provider_message, info.value.code) == ("Internal error", "500")


# ---------------------------------------------------------------------------------------------
# Save & test


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
async def test_save_and_test_makes_one_minimal_call_on_the_deployment(
    server: FakeServer, azure: fake.AzureOpenAIFake, ctx: CallContext, task: TaskType
) -> None:
    result = await azure_plugin.PROVIDER.test(endpoint(server.url, task), ctx)

    assert result.ok and result.latency_ms is not None
    assert len(server.requests) == 1 and server.last.path == path_for(task)
    body = server.last.json()
    if task is EMBED:
        assert body == {"input": ["Hello world"]}
    else:
        assert body["messages"] == [{"role": "user", "content": "Hello world"}]
        assert body["max_completion_tokens"] == 1


FAILURES = [
    pytest.param(fake.invalid_key_response(), FailureKind.CREDENTIALS, id="credentials"),
    pytest.param(fake.deployment_not_found_response(), FailureKind.MODEL_NOT_FOUND, id="model_not_found"),
    pytest.param(fake.rate_limit_response(), FailureKind.RATE_LIMITED, id="rate_limited"),
    pytest.param(openai_fake.malformed_json_response(), FailureKind.INVALID_RESPONSE, id="invalid_response"),
    pytest.param(fake.server_error_response(), FailureKind.PROVIDER_ERROR, id="provider_error"),
]


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
@pytest.mark.parametrize(("answer", "kind"), FAILURES)
async def test_save_and_test_reports_the_failure_kind_without_secrets(
    server: FakeServer,
    ctx: CallContext,
    caplog: pytest.LogCaptureFixture,
    task: TaskType,
    answer: FakeResponse,
    kind: FailureKind,
) -> None:
    server.add("POST", path_for(task), answer)
    with caplog.at_level(logging.DEBUG):
        result = await azure_plugin.PROVIDER.test(endpoint(server.url, task), ctx)
    assert not result.ok and result.failure is kind
    assert_no_secret(result, result.to_dict(), result.message, caplog.text)


async def test_save_and_test_of_an_unreachable_resource(ctx: CallContext) -> None:
    result = await azure_plugin.PROVIDER.test(endpoint("http://127.0.0.1:9"), ctx)
    assert not result.ok and result.failure is FailureKind.UNREACHABLE


# ---------------------------------------------------------------------------------------------
# The fake's cross-provider helpers


async def test_connector_and_serve_chat_work_together(server: FakeServer, ctx: CallContext) -> None:
    fake.serve_chat(server, ["Hi", " you"], prompt_tokens=11, completion_tokens=2)
    config, secrets = fake.connector(server.url)
    ep = InferenceEndpoint(inference_id="x", task_type=CHAT, settings=config, secrets=Secrets(secrets))
    chunks = await chat(ep, ctx)
    assert "".join(c.content or "" for c in chunks) == "Hi you"
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].usage == Usage(prompt_tokens=11, completion_tokens=2, total_tokens=13)


class TestContract(ProviderContract):
    """The shared provider contract kit, against the Azure OpenAI fake."""

    provider_id = "azureopenai"
    fake = azureopenai_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return fake.connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        fake.AzureOpenAIFake(server, api_key="the-only-valid-key-0123456789").install()
