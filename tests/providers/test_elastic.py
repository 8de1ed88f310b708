"""The Elastic Inference Service provider against a wire-exact fake Elasticsearch: where it finds the
deployment (host or connector), what it sends to the inference API, how it reads ES's answers and
error envelope, the endpoint it owns (save/delete hooks), Save & test, and that no key leaks."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

import ai_connector_elastic as elastic_plugin
import ai_connector_elastic.testing as elastic_testing
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.errors import UnreachableError
from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    StreamInterruptedError,
    TaskType,
    ToolCallDelta,
    Usage,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector_elastic.testing import (
    DEFAULT_MODELS,
    FakeElasticsearch,
    chat_chunks,
    es_error_response,
    security_exception,
    stream_response,
)

CANARY = "canary-elastic-connector-9b3f1e77"
HOST_KEY = "canary-elastic-host-key-4c2a8d10"
PROVIDER = elastic_plugin.PROVIDER
ALL_TASKS = [
    TaskType.CHAT_COMPLETION,
    TaskType.COMPLETION,
    TaskType.TEXT_EMBEDDING,
    TaskType.SPARSE_EMBEDDING,
    TaskType.RERANK,
]
NOT_CHAT = ALL_TASKS[1:]
SKY = "The sky above the port was the color of television tuned to a dead channel."


@pytest.fixture
def es(server: FakeServer) -> FakeElasticsearch:
    fake = FakeElasticsearch(server, api_key=CANARY)
    for task in ALL_TASKS:
        fake.add_endpoint(f"my-{task.value}", task.value)
    return fake


def endpoint(
    url: str | None,
    task: TaskType = TaskType.CHAT_COMPLETION,
    *,
    inference_id: str | None = None,
    settings: Mapping[str, Any] | None = None,
    secret: str | None = CANARY,
    headers: Mapping[str, str] | None = None,
) -> InferenceEndpoint:
    values: dict[str, Any] = {"model_id": DEFAULT_MODELS[task.value], **(settings or {})}
    if url is not None:
        values["url"] = url
    return InferenceEndpoint(
        inference_id=inference_id or f"my-{task.value}",
        task_type=task,
        settings=values,
        secrets=Secrets({"api_key": secret} if secret else {}),
        headers=dict(headers or {}),
    )


@asynccontextmanager
async def context(host: Mapping[str, Any] | None = None) -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(
            client=client,
            provider_id="elastic",
            redactor=Redactor([CANARY]),
            host_settings=dict(host or {}),
        )


async def collect(ep: InferenceEndpoint, request: ChatRequest, host: Mapping[str, Any] | None = None) -> list:
    async with context(host) as ctx:
        return [c async for c in PROVIDER.chat_completion_stream(ep, request, ctx)]


def hello(**kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "Hello world"}], **kwargs)


async def run(task: TaskType, ep: InferenceEndpoint, host: Mapping[str, Any] | None = None) -> Any:
    """Run the connector's own call with Kibana's default input for its task type."""
    async with context(host) as ctx:
        if task is TaskType.CHAT_COMPLETION:
            return [c async for c in PROVIDER.chat_completion_stream(ep, hello(), ctx)]
        if task is TaskType.COMPLETION:
            return await PROVIDER.completion(ep, CompletionRequest(input="What is Elastic?"), ctx)
        if task is TaskType.TEXT_EMBEDDING:
            return await PROVIDER.text_embedding(ep, EmbeddingRequest(input=[SKY], input_type="ingest"), ctx)
        if task is TaskType.SPARSE_EMBEDDING:
            return await PROVIDER.sparse_embedding(ep, SparseEmbeddingRequest(input=[SKY]), ctx)
        request = RerankRequest(query="star wars main character", input=["luke", "like", "leia"])
        return await PROVIDER.rerank(ep, request, ctx)


def assert_no_secret(*texts: Any) -> None:
    for text in texts:
        assert CANARY not in str(text) and HOST_KEY not in str(text)


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(c.content or "" for c in chunks)


# ---------------------------------------------------------------------------------------------
# Declaration and where the deployment is


def test_declares_eis_with_es_fields_and_no_required_credentials() -> None:
    assert PROVIDER.id == "elastic" and PROVIDER.name == "Elastic Inference Service"
    assert PROVIDER.task_types == set(ALL_TASKS)
    assert PROVIDER.on_save is not None and PROVIDER.on_delete is not None
    desc = service_descriptor(PROVIDER)["configurations"]
    assert desc["model_id"] == {
        "description": "The name of the model to use for the inference task.",
        "label": "Model ID",
        "required": True,
        "sensitive": False,
        "updatable": False,
        "type": "str",
        "supported_task_types": [t.value for t in TaskType],
    }
    assert desc["max_input_tokens"]["label"] == "Maximum Input Tokens"
    assert desc["max_input_tokens"]["supported_task_types"] == ["text_embedding", "sparse_embedding"]
    assert desc["max_batch_size"]["updatable"] and desc["max_batch_size"]["supported_task_types"] == [
        "sparse_embedding"
    ]
    assert not desc["api_key"]["required"] and desc["api_key"]["sensitive"]
    assert not desc["url"]["required"]
    assert "required" not in PROVIDER.auth_schema


def test_urls_come_from_the_connector_or_the_host() -> None:
    assert PROVIDER.urls is not None
    own = endpoint("https://es.example.com:9243/", TaskType.RERANK)
    assert PROVIDER.urls(own, {"url": "https://host-es"}) == [
        "https://es.example.com:9243/_inference/rerank/my-rerank"
    ]
    hosted = endpoint(None, TaskType.RERANK)
    assert PROVIDER.urls(hosted, {"url": "https://host-es"}) == [
        "https://host-es/_inference/rerank/my-rerank"
    ]
    assert PROVIDER.urls(hosted, {}) == []


@pytest.mark.parametrize("task", ALL_TASKS)
async def test_without_any_elasticsearch_url_the_error_names_both_remedies(task: TaskType) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await run(task, endpoint(None, task))
    assert "AI_CONNECTOR_ELASTICSEARCH_URL" in str(info.value) and "`url`" in str(info.value)
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(None, task), ctx)
        assert not result.ok and result.failure is FailureKind.INVALID_REQUEST
        assert "AI_CONNECTOR_ELASTICSEARCH_URL" in result.message
        with pytest.raises(InvalidRequestError):
            await PROVIDER.on_save(endpoint(None, task), ctx, False)  # type: ignore[misc]


async def test_the_host_url_and_key_are_used_when_the_connector_has_none(server: FakeServer) -> None:
    fake = FakeElasticsearch(server, api_key=HOST_KEY)
    fake.add_endpoint("my-completion", "completion")
    ep = endpoint(None, TaskType.COMPLETION, secret=None)
    assert await run(TaskType.COMPLETION, ep, {"url": server.url, "api_key": HOST_KEY}) == [
        fake.completion_text
    ]
    assert server.last.headers["authorization"] == f"ApiKey {HOST_KEY}"


async def test_the_connector_url_and_key_override_the_host(server: FakeServer, es: FakeElasticsearch) -> None:
    ep = endpoint(server.url, TaskType.COMPLETION)
    host = {"url": "http://127.0.0.1:9", "api_key": HOST_KEY}
    assert await run(TaskType.COMPLETION, ep, host) == [es.completion_text]
    assert server.last.headers["authorization"] == f"ApiKey {CANARY}"


async def test_a_raw_id_and_key_pair_is_encoded(server: FakeServer) -> None:
    encoded = base64.b64encode(b"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").decode()
    fake = FakeElasticsearch(server, api_key=encoded)
    fake.add_endpoint("my-completion", "completion")
    ep = endpoint(server.url, TaskType.COMPLETION, secret="VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")
    await run(TaskType.COMPLETION, ep)
    assert server.last.headers["authorization"] == f"ApiKey {encoded}"


async def test_no_key_anywhere_sends_no_authorization(server: FakeServer) -> None:
    fake = FakeElasticsearch(server, api_key=None)
    fake.add_endpoint("my-completion", "completion")
    await run(TaskType.COMPLETION, endpoint(server.url, TaskType.COMPLETION, secret=None))
    assert "authorization" not in server.last.headers


# ---------------------------------------------------------------------------------------------
# Chat completion


async def test_chat_sends_kibanas_stream_request(server: FakeServer, es: FakeElasticsearch) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    request = ChatRequest(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello world"}],
        model="override-model",
        max_tokens=64,
        temperature=0.3,
        top_p=0.8,
        stop=["END"],
        tools=tools,
        tool_choice="auto",
        user="someone",
    )
    ep = endpoint(server.url, headers={"X-Team": "search", "Authorization": "Bearer must-not-win"})
    chunks = await collect(ep, request)

    sent = server.last
    assert (sent.method, sent.path, sent.query) == (
        "POST",
        "/_inference/chat_completion/my-chat_completion/_stream",
        {"timeout": "180s"},
    )
    assert sent.headers["authorization"] == f"ApiKey {CANARY}"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["x-elastic-product-use-case"] == "inference"
    assert sent.headers["x-team"] == "search"
    assert sent.json() == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello world"}],
        "model": "override-model",
        "max_completion_tokens": 64,
        "temperature": 0.3,
        "top_p": 0.8,
        "stop": ["END"],
        "tools": tools,
        "tool_choice": "auto",
    }
    assert chunks[0].role == "assistant"
    assert text_of(chunks) == "Hello there"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].is_usage_only and chunks[-1].usage == Usage(5, 7, 12)


async def test_chat_minimal_body(server: FakeServer, es: FakeElasticsearch) -> None:
    await collect(endpoint(server.url), hello())
    assert server.last.json() == {"messages": [{"role": "user", "content": "Hello world"}]}


@pytest.mark.parametrize("wrapped", [False, True])
async def test_bare_and_wrapped_chunks_read_the_same(
    server: FakeServer, es: FakeElasticsearch, wrapped: bool
) -> None:
    es.wrap_chunks = wrapped
    chunks = await collect(endpoint(server.url), hello())
    assert [(c.role, c.content, c.finish_reason, c.usage) for c in chunks] == [
        ("assistant", "Hello", None, None),
        (None, " there", None, None),
        (None, None, "stop", None),
        (None, None, None, Usage(5, 7, 12)),
    ]


async def test_a_missing_role_is_supplied_and_bundled_usage_is_split(
    server: FakeServer, es: FakeElasticsearch
) -> None:
    chunks = chat_chunks(["Hi"], role=False)
    usage = chunks.pop()["usage"]
    chunks[-1]["usage"] = usage  # finish reason and usage in one chunk
    es.then(stream_response(chunks))
    out = await collect(endpoint(server.url), hello())
    assert out[0].role == "assistant" and "".join(c.content or "" for c in out) == "Hi"
    assert out[-2].finish_reason == "stop" and out[-2].usage is None
    assert out[-1] == ChatChunk(usage=Usage(5, 7, 12), id="chatcmpl-fakeEIS0001", model="rainbow-sprinkles")


async def test_tool_call_chunks_pass_through(server: FakeServer, es: FakeElasticsearch) -> None:
    base = {"id": "c1", "object": "chat.completion.chunk", "model": "m"}
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    chunks = [
        {**base, "choices": [{"delta": {"role": "assistant", "tool_calls": [call]}, "index": 0}]},
        {
            **base,
            "choices": [
                {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}, "index": 0}
            ],
        },
        {**base, "choices": [{"delta": {}, "finish_reason": "tool_calls", "index": 0}]},
    ]
    es.then(stream_response(chunks, wrapped=True))
    out = await collect(endpoint(server.url), hello())
    assert out[0].tool_calls == (ToolCallDelta(index=0, id="call_1", name="f", arguments=""),)
    assert out[1].tool_calls == (ToolCallDelta(index=0, arguments='{"a":1}'),)
    assert out[2].finish_reason == "tool_calls" and len(out) == 3


async def test_chat_stream_that_breaks_halfway(server: FakeServer, es: FakeElasticsearch) -> None:
    es.then(stream_response(chat_chunks(["Hel", "lo", "!"]), abort_after=2))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError):
        async with context() as ctx:
            async for chunk in PROVIDER.chat_completion_stream(endpoint(server.url), hello(), ctx):
                received.append(chunk)
    assert text_of(received) == "Hello"


async def test_chat_stream_that_ends_without_done(server: FakeServer, es: FakeElasticsearch) -> None:
    es.then(stream_response(chat_chunks(["Hi"]), done=False))
    with pytest.raises(StreamInterruptedError, match=r"\[DONE\]"):
        await collect(endpoint(server.url), hello())


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            {
                "code": "stream_error",
                "message": "Received an error response for request from inference entity "
                "id [id]. Error message: [some error]",
                "type": "error",
            },
            "stream_error",
            "Error message: [some error]",
        ),
        (
            {"type": "status_exception", "reason": "upstream went away"},
            "status_exception",
            "upstream went away",
        ),
    ],
)
async def test_mid_stream_error_event(
    server: FakeServer,
    es: FakeElasticsearch,
    caplog: pytest.LogCaptureFixture,
    error: dict[str, str],
    code: str,
    message: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    chunks: list[Any] = chat_chunks(["Hel"])[:1]
    chunks.append(json.dumps({"error": error}))
    es.then(stream_response(chunks, done=False))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError) as info:
        async with context() as ctx:
            async for chunk in PROVIDER.chat_completion_stream(endpoint(server.url), hello(), ctx):
                received.append(chunk)
    assert text_of(received) == "Hel"
    assert info.value.code == code and message in (info.value.provider_message or "")
    assert_no_secret(info.value, caplog.text)


async def test_chat_malformed_chunk(server: FakeServer, es: FakeElasticsearch) -> None:
    es.then(stream_response(["{ i am not json }"]))
    with pytest.raises(InvalidResponseError):
        await collect(endpoint(server.url), hello())
    es.then(stream_response(['{"choices": [{"delta": {"content": 5}}]}']))
    with pytest.raises(InvalidResponseError):
        await collect(endpoint(server.url), hello())


# ---------------------------------------------------------------------------------------------
# The other task types


async def test_completion(server: FakeServer, es: FakeElasticsearch) -> None:
    result = await run(TaskType.COMPLETION, endpoint(server.url, TaskType.COMPLETION))
    assert result == ["Elastic is a search company."]
    sent = server.last
    assert (sent.method, sent.path) == ("POST", "/_inference/completion/my-completion")
    assert sent.headers["authorization"] == f"ApiKey {CANARY}"
    assert sent.json() == {"input": "What is Elastic?"}


async def test_text_embedding(server: FakeServer, es: FakeElasticsearch) -> None:
    vectors = await run(TaskType.TEXT_EMBEDDING, endpoint(server.url, TaskType.TEXT_EMBEDDING))
    assert vectors == [[0.75, 0.0185, -0.0368]]
    assert server.last.path == "/_inference/text_embedding/my-text_embedding"
    assert server.last.json() == {"input": [SKY], "task_settings": {"input_type": "ingest"}}
    async with context() as ctx:
        ep = endpoint(server.url, TaskType.TEXT_EMBEDDING)
        two = await PROVIDER.text_embedding(ep, EmbeddingRequest(input=["a", "bb"]), ctx)
    assert len(two) == 2 and server.last.json() == {"input": ["a", "bb"]}


async def test_sparse_embedding_both_response_shapes(server: FakeServer, es: FakeElasticsearch) -> None:
    ep = endpoint(server.url, TaskType.SPARSE_EMBEDDING)
    weights = await run(TaskType.SPARSE_EMBEDDING, ep)
    assert weights[0]["television"] == 2.0 and weights[0]["sky"] == 1.3
    assert server.last.path == "/_inference/sparse_embedding/my-sparse_embedding"
    assert server.last.json() == {"input": [SKY]}
    es.then(FakeResponse.json({"sparse_embedding": [{"is_truncated": False, "embedding": {"port": 2.12}}]}))
    assert await run(TaskType.SPARSE_EMBEDDING, ep) == [{"port": 2.12}]


@pytest.mark.parametrize("quoted", [False, True])
async def test_rerank_numeric_or_quoted_scores(
    server: FakeServer, es: FakeElasticsearch, quoted: bool
) -> None:
    es.quote_scores = quoted
    results = await run(TaskType.RERANK, endpoint(server.url, TaskType.RERANK))
    assert server.last.json() == {"query": "star wars main character", "input": ["luke", "like", "leia"]}
    assert [r.index for r in results] == [0, 1, 2]
    assert results[0] == RerankResult(index=0, score=0.5, text="luke")
    assert all(isinstance(r.score, float) for r in results)


async def test_rerank_top_n_and_no_documents(server: FakeServer, es: FakeElasticsearch) -> None:
    es.then(
        FakeResponse.json(
            {
                "rerank": [
                    {"index": 2, "relevance_score": "0.0116", "text": "leia"},
                    {"index": 0, "relevance_score": 0.9},
                ]
            }
        )
    )
    async with context() as ctx:
        request = RerankRequest(query="q", input=["a", "b", "c"], top_n=1, return_documents=False)
        results = await PROVIDER.rerank(endpoint(server.url, TaskType.RERANK), request, ctx)
    assert results == [RerankResult(index=0, score=0.9, text=None)]


# ---------------------------------------------------------------------------------------------
# Errors, for every task type


@pytest.mark.parametrize("task", ALL_TASKS)
@pytest.mark.parametrize(
    ("answer", "cls", "retryable", "code"),
    [
        (security_exception("/_inference"), AuthenticationError, False, "security_exception"),
        (
            es_error_response(
                403, "security_exception", "action [cluster:monitor/xpack/inference] is unauthorized"
            ),
            AuthenticationError,
            False,
            "security_exception",
        ),
        (
            es_error_response(
                400,
                "status_exception",
                "Received a rate limit status code for request from inference entity id [x] status [429]. "
                "Error message: [slow down]",
            ),
            RateLimitError,
            True,
            "status_exception",
        ),
        (
            es_error_response(
                400,
                "status_exception",
                "Received a rate limit status code for request from inference entity id [x] status [429]. "
                "Error message: [You exceeded your current quota]",
            ),
            RateLimitError,
            False,
            "status_exception",
        ),
        (
            es_error_response(400, "action_request_validation_exception", "Validation Failed: 1: bad input;"),
            InvalidRequestError,
            False,
            "action_request_validation_exception",
        ),
        (
            es_error_response(
                429, "es_rejected_execution_exception", "rejected execution of coordinating operation"
            ),
            RateLimitError,
            True,
            "es_rejected_execution_exception",
        ),
        (
            es_error_response(500, "status_exception", "Received an unsuccessful status code [500]"),
            ProviderServerError,
            True,
            "status_exception",
        ),
        (
            es_error_response(503, "unavailable_shards_exception", "no shards"),
            ProviderServerError,
            True,
            None,
        ),
    ],
)
async def test_es_error_envelopes_are_typed(
    server: FakeServer,
    es: FakeElasticsearch,
    caplog: pytest.LogCaptureFixture,
    task: TaskType,
    answer: FakeResponse,
    cls: type[ProviderError],
    retryable: bool,
    code: str | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    es.then(answer)
    with pytest.raises(cls) as info:
        await run(task, endpoint(server.url, task))
    err = info.value
    assert type(err) is cls and err.retryable is retryable and err.status == answer.status
    assert err.provider_message and err.provider_message in err.message
    if code is not None:
        assert err.code == code
    assert_no_secret(err, repr(err), caplog.text)


@pytest.mark.parametrize("task", ALL_TASKS)
async def test_wrong_or_missing_key_is_a_credentials_error(
    server: FakeServer, es: FakeElasticsearch, task: TaskType
) -> None:
    with pytest.raises(AuthenticationError, match="unable to authenticate"):
        await run(task, endpoint(server.url, task, secret="wrong-key-00000"))
    with pytest.raises(AuthenticationError, match="missing authentication credentials"):
        await run(task, endpoint(server.url, task, secret=None))


@pytest.mark.parametrize("task", ALL_TASKS)
async def test_unknown_inference_endpoint_is_model_not_found(
    server: FakeServer, es: FakeElasticsearch, task: TaskType
) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        await run(task, endpoint(server.url, task, inference_id="nope"))
    assert info.value.provider_message == "Inference endpoint not found [nope]"
    assert info.value.code == "resource_not_found_exception"


@pytest.mark.parametrize("task", ALL_TASKS)
async def test_a_proxys_retry_after_is_honoured(
    server: FakeServer, es: FakeElasticsearch, task: TaskType
) -> None:
    answer = es_error_response(429, "es_rejected_execution_exception", "rejected")
    answer.headers = {"Retry-After": "4"}
    es.then(answer)
    with pytest.raises(RateLimitError) as info:
        await run(task, endpoint(server.url, task))
    assert info.value.retry_after == 4.0


@pytest.mark.parametrize("task", NOT_CHAT)
async def test_malformed_and_unexpected_bodies(
    server: FakeServer, es: FakeElasticsearch, task: TaskType
) -> None:
    es.then(FakeResponse(body='{"completion": [', content_type="application/json"))
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await run(task, endpoint(server.url, task))
    es.then(FakeResponse.json({"something_else": []}))
    with pytest.raises(InvalidResponseError, match="unexpected"):
        await run(task, endpoint(server.url, task))
    es.then(FakeResponse.json(["not", "an", "object"]))
    with pytest.raises(InvalidResponseError):
        await run(task, endpoint(server.url, task))


async def test_embedding_count_mismatch_is_invalid(server: FakeServer, es: FakeElasticsearch) -> None:
    es.then(FakeResponse.json({"text_embedding": []}))
    with pytest.raises(InvalidResponseError, match="0 embeddings came back for 1"):
        await run(TaskType.TEXT_EMBEDDING, endpoint(server.url, TaskType.TEXT_EMBEDDING))


@pytest.mark.parametrize("task", ALL_TASKS)
async def test_unreachable_host(task: TaskType, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UnreachableError) as info:
        await run(task, endpoint("http://127.0.0.1:9", task))
    assert_no_secret(info.value, caplog.text)


async def test_an_echoed_host_key_is_redacted(server: FakeServer) -> None:
    fake = FakeElasticsearch(server, api_key=HOST_KEY)
    fake.add_endpoint("my-completion", "completion")
    fake.then(es_error_response(400, "status_exception", f"bad key {HOST_KEY} for [x]"))
    with pytest.raises(InvalidRequestError) as info:
        await run(
            TaskType.COMPLETION,
            endpoint(None, TaskType.COMPLETION, secret=None),
            {"url": server.url, "api_key": HOST_KEY},
        )
    assert_no_secret(info.value, repr(info.value), info.value.provider_message)
    assert "bad key" in str(info.value)


# ---------------------------------------------------------------------------------------------
# The connector owns its inference endpoint


async def save(ep: InferenceEndpoint, is_update: bool = False) -> None:
    async with context() as ctx:
        await PROVIDER.on_save(ep, ctx, is_update)  # type: ignore[misc]


async def delete(ep: InferenceEndpoint) -> None:
    async with context() as ctx:
        await PROVIDER.on_delete(ep, ctx)  # type: ignore[misc]


def calls(server: FakeServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests]


async def test_create_puts_the_endpoint_without_our_url(server: FakeServer, es: FakeElasticsearch) -> None:
    ep = endpoint(
        server.url,
        TaskType.SPARSE_EMBEDDING,
        inference_id="new-elser",
        settings={"max_input_tokens": 512, "max_batch_size": 16},
    )
    await save(ep)
    assert calls(server) == [
        ("GET", "/_inference/sparse_embedding/new-elser"),
        ("PUT", "/_inference/sparse_embedding/new-elser"),
    ]
    assert server.last.json() == {
        "service": "elastic",
        "service_settings": {"model_id": "elser_model_2", "max_input_tokens": 512, "max_batch_size": 16},
    }
    assert server.last.headers["authorization"] == f"ApiKey {CANARY}"
    assert ("sparse_embedding", "new-elser") in es.endpoints


async def test_create_over_an_existing_endpoint_is_refused(server: FakeServer, es: FakeElasticsearch) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await save(endpoint(server.url, TaskType.RERANK))
    assert info.value.message == "Inference with id my-rerank and task type rerank already exists."
    assert calls(server) == [("GET", "/_inference/rerank/my-rerank")]


async def test_update_deletes_then_recreates(server: FakeServer, es: FakeElasticsearch) -> None:
    await save(endpoint(server.url, TaskType.COMPLETION, settings={"model_id": "new-model"}), is_update=True)
    assert calls(server) == [
        ("GET", "/_inference/completion/my-completion"),
        ("DELETE", "/_inference/completion/my-completion"),
        ("PUT", "/_inference/completion/my-completion"),
    ]
    assert es.endpoints[("completion", "my-completion")]["service_settings"] == {"model_id": "new-model"}


async def test_update_of_a_missing_endpoint_creates_it(server: FakeServer, es: FakeElasticsearch) -> None:
    await save(endpoint(server.url, TaskType.COMPLETION, inference_id="gone"), is_update=True)
    assert [m for m, _ in calls(server)] == ["GET", "PUT"]


@pytest.mark.parametrize("is_update", [False, True])
async def test_a_preconfigured_endpoint_is_used_not_created(
    server: FakeServer, es: FakeElasticsearch, is_update: bool
) -> None:
    es.add_endpoint(".elser-2-elastic", "sparse_embedding")
    ep = endpoint(server.url, TaskType.SPARSE_EMBEDDING, inference_id=".elser-2-elastic")
    await save(ep, is_update)
    assert calls(server) == [("GET", "/_inference/sparse_embedding/.elser-2-elastic")]
    await delete(ep)
    assert len(server.requests) == 1 and (("sparse_embedding", ".elser-2-elastic") in es.endpoints)


async def test_a_missing_preconfigured_endpoint_is_model_not_found(
    server: FakeServer, es: FakeElasticsearch
) -> None:
    with pytest.raises(ModelNotFoundError, match="preconfigured"):
        await save(endpoint(server.url, TaskType.CHAT_COMPLETION, inference_id=".rainbow-sprinkles-elastic"))
    assert [m for m, _ in calls(server)] == ["GET"]


async def test_save_errors_abort_the_save(server: FakeServer, es: FakeElasticsearch) -> None:
    with pytest.raises(AuthenticationError):
        await save(endpoint(server.url, TaskType.COMPLETION, inference_id="x", secret="wrong-key-00000"))
    server.add(
        "PUT",
        r"/_inference/.*",
        es_error_response(
            400,
            "status_exception",
            "Could not complete inference endpoint creation as validation call to service threw an "
            "exception.",
        ),
    )
    with pytest.raises(InvalidRequestError, match="validation call"):
        await save(endpoint(server.url, TaskType.COMPLETION, inference_id="y"))


async def test_delete_removes_the_endpoint_and_tolerates_it_being_gone(
    server: FakeServer, es: FakeElasticsearch
) -> None:
    ep = endpoint(server.url, TaskType.TEXT_EMBEDDING)
    await delete(ep)
    assert calls(server) == [("DELETE", "/_inference/text_embedding/my-text_embedding")]
    assert ("text_embedding", "my-text_embedding") not in es.endpoints
    await delete(ep)  # a 404 now: already gone
    with pytest.raises(AuthenticationError):
        await delete(endpoint(server.url, TaskType.RERANK, secret="wrong-key-00000"))


# ---------------------------------------------------------------------------------------------
# Save & test


@pytest.mark.parametrize("task", ALL_TASKS)
async def test_save_and_test_checks_the_endpoint_then_runs_kibanas_request(
    server: FakeServer, es: FakeElasticsearch, task: TaskType
) -> None:
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert result.ok and result.latency_ms is not None, result
    first, second = server.requests
    assert (first.method, first.path) == ("GET", f"/_inference/{task.value}/my-{task.value}")
    assert second.method == "POST" and second.path.startswith(f"/_inference/{task.value}/my-{task.value}")
    body = second.json()
    expected = {
        TaskType.CHAT_COMPLETION: {"messages": [{"role": "user", "content": "Hello world"}]},
        TaskType.COMPLETION: {"input": "What is Elastic?"},
        TaskType.TEXT_EMBEDDING: {"input": [SKY], "task_settings": {"input_type": "ingest"}},
        TaskType.SPARSE_EMBEDDING: {"input": [SKY]},
        TaskType.RERANK: {
            "query": "star wars main character",
            "input": ["luke", "like", "leia", "chewy", "r2d2", "star", "wars"],
        },
    }[task]
    assert body == expected


@pytest.mark.parametrize("task", ALL_TASKS)
@pytest.mark.parametrize(
    ("case", "failure"),
    [
        ("wrong key", FailureKind.CREDENTIALS),
        ("no endpoint", FailureKind.MODEL_NOT_FOUND),
        ("rate limited", FailureKind.RATE_LIMITED),
        ("malformed", FailureKind.INVALID_RESPONSE),
        ("unreachable", FailureKind.UNREACHABLE),
    ],
)
async def test_save_and_test_failures_have_the_right_kind(
    server: FakeServer,
    es: FakeElasticsearch,
    caplog: pytest.LogCaptureFixture,
    task: TaskType,
    case: str,
    failure: FailureKind,
) -> None:
    caplog.set_level(logging.DEBUG)
    ep = endpoint(server.url, task)
    if case == "wrong key":
        ep = endpoint(server.url, task, secret="wrong-key-00000")
    elif case == "no endpoint":
        ep = endpoint(server.url, task, inference_id="missing")
    elif case == "rate limited":
        es.then(
            es_error_response(
                400, "status_exception", "Received a rate limit status code for request [x] status [429]."
            )
        )
    elif case == "malformed":
        es.then(
            stream_response(["{oops"]) if task is TaskType.CHAT_COMPLETION else FakeResponse(body="{oops")
        )
    else:
        ep = endpoint("http://127.0.0.1:9", task)
    async with context({"api_key": HOST_KEY}) as ctx:
        result = await PROVIDER.test(ep, ctx)
    assert not result.ok and result.failure is failure, result
    if case == "no endpoint":
        assert result.message == "Inference Endpoint by ID missing does not exist!"
    assert_no_secret(result.message, repr(result), result.to_dict(), caplog.text)


# ---------------------------------------------------------------------------------------------
# The shared contract kit


class TestContract(ProviderContract):
    provider_id = "elastic"
    fake = elastic_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return {"model_id": DEFAULT_MODELS[task_type.value], "url": base_url}, {"api_key": self.canary}

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        server.add("*", "/.*", lambda request: security_exception(request.path))
