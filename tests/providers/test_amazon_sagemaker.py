"""The `amazon_sagemaker` provider against its wire-exact fake SageMaker Runtime: ES's fields, SigV4
with botocore, each API's payloads, the event-stream chat, ES's api/task rule, errors typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from provider_error_kinds import assert_kind, error_cases

import ai_connector_amazon_sagemaker as plugin
import ai_connector_amazon_sagemaker.testing as sm_testing
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    ChatRequest,
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    InferenceEndpoint,
    ProviderError,
    RerankRequest,
    ResponseTooLargeError,
    SparseEmbeddingRequest,
    StreamInterruptedError,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import Secrets
from ai_connector_amazon_sagemaker.testing import (
    ELASTIC_ENDPOINTS,
    FakeSageMaker,
    aws_error,
    model_error,
    openai_sse,
    payload_stream,
    stream_error_frame,
)

CANARY = "canary-sagemaker-secret-91d3a0f2"
PROVIDER = plugin.PROVIDER
TASKS = list(TaskType)


@pytest.fixture
def sm(server: FakeServer) -> FakeSageMaker:
    return FakeSageMaker(server, secret=CANARY)


def endpoint(
    server: FakeServer, task: TaskType, *, secret: str = CANARY, **settings: Any
) -> InferenceEndpoint:
    values, secrets = sm_testing.connector(server.url, task.value, secret=secret)
    return InferenceEndpoint(
        inference_id="sm", task_type=task, settings={**values, **settings}, secrets=Secrets(secrets)
    )


@asynccontextmanager
async def context() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id=PROVIDER.id, redactor=Redactor([CANARY]))


async def call(task: TaskType, ep: InferenceEndpoint) -> Any:
    async with context() as ctx:
        if task is TaskType.CHAT_COMPLETION:
            request = ChatRequest(messages=({"role": "user", "content": "Hi"},))
            return [c async for c in PROVIDER.chat_completion_stream(ep, request, ctx)]
        requests = {
            TaskType.TEXT_EMBEDDING: EmbeddingRequest(input=["a cat", "a dog"]),
            TaskType.SPARSE_EMBEDDING: SparseEmbeddingRequest(input=["the quick fox"]),
            TaskType.RERANK: RerankRequest(query="star wars", input=["luke", "star wars", "leia"]),
            TaskType.COMPLETION: CompletionRequest(input="Hello"),
        }
        return await PROVIDER.call_for(task)(ep, requests[task], ctx)


def test_declares_es_configuration() -> None:
    # SageMakerServiceSettings / SageMakerTaskSettings configuration (x-pack/plugin/inference/.../sagemaker/).
    assert PROVIDER.id == "amazon_sagemaker" and PROVIDER.name == "Amazon SageMaker"
    conf = service_descriptor(PROVIDER)["configurations"]
    assert conf["api"]["label"] == "API" and conf["api"]["description"] == (
        "The API format that your SageMaker Endpoint expects."
    )
    assert conf["endpoint_name"]["description"] == "The name specified when creating the SageMaker Endpoint."
    assert conf["region"]["description"] == "The AWS region that your model or ARN is deployed in."
    assert all(conf[k]["required"] for k in ("api", "endpoint_name", "region", "access_key", "secret_key"))
    assert not any(conf[k]["required"] for k in ("target_model", "target_container_hostname", "batch_size"))
    assert conf["access_key"]["sensitive"] and conf["secret_key"]["sensitive"]
    assert conf["target_container_hostname"]["label"] == "Target Container Hostname"
    assert set(PROVIDER.task_settings_schemas[TaskType.RERANK]["properties"]) == {
        "custom_attributes",
        "enable_explanations",
        "inference_id",
        "session_id",
        "target_variant",
    }


async def test_openai_embeddings_are_signed_and_carry_sagemaker_headers(
    sm: FakeSageMaker, server: FakeServer
) -> None:
    ep = InferenceEndpoint(
        inference_id="sm",
        task_type=TaskType.TEXT_EMBEDDING,
        settings={**endpoint(server, TaskType.TEXT_EMBEDDING).settings, "target_model": "model-a.tar.gz"},
        secrets=endpoint(server, TaskType.TEXT_EMBEDDING).secrets,
        task_settings={"custom_attributes": "c000b4f9", "target_variant": "blue"},
    )
    vectors = await call(TaskType.TEXT_EMBEDDING, ep)
    assert len(vectors) == 2 and vectors[0][1] == pytest.approx(0.0311)
    sent = server.requests[-1]
    assert sent.path == "/endpoints/openai-endpoint/invocations" and sent.json() == {
        "input": ["a cat", "a dog"]
    }
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIA")
    assert "/us-east-1/sagemaker/aws4_request" in sent.headers["authorization"]
    assert sent.headers["x-amzn-sagemaker-target-model"] == "model-a.tar.gz"
    assert sent.headers["x-amzn-sagemaker-custom-attributes"] == "c000b4f9"
    assert sent.headers["x-amzn-sagemaker-target-variant"] == "blue"


async def test_openai_completion(sm: FakeSageMaker, server: FakeServer) -> None:
    assert await call(TaskType.COMPLETION, endpoint(server, TaskType.COMPLETION)) == ["Hello from SageMaker"]
    assert server.requests[-1].json()["messages"] == [{"role": "user", "content": "Hello"}]


@pytest.mark.parametrize(
    "task", [TaskType.TEXT_EMBEDDING, TaskType.SPARSE_EMBEDDING, TaskType.RERANK, TaskType.COMPLETION]
)
async def test_elastic_api_payloads(sm: FakeSageMaker, server: FakeServer, task: TaskType) -> None:
    ep = endpoint(server, task, api="elastic", endpoint_name=ELASTIC_ENDPOINTS[task.value])
    result = await call(task, ep)
    sent = server.requests[-1].json()
    if task is TaskType.RERANK:
        assert [r.index for r in result] == [1, 0, 2] and result[0].text == "star wars"
        assert sent == {
            "query": "star wars",
            "input": ["luke", "star wars", "leia"],
            "return_documents": True,
        }
    elif task is TaskType.SPARSE_EMBEDDING:
        assert set(result[0]) == {"the", "quick", "fox"} and sent == {"input": ["the quick fox"]}
    elif task is TaskType.COMPLETION:
        assert result == ["Echo: Hello"] and sent == {"input": ["Hello"]}
    else:
        assert len(result) == 2 and sent == {"input": ["a cat", "a dog"]}


async def test_chat_streams_payload_parts_split_mid_event(sm: FakeSageMaker, server: FakeServer) -> None:
    chunks = await call(TaskType.CHAT_COMPLETION, endpoint(server, TaskType.CHAT_COMPLETION))
    assert (
        chunks[0].role == "assistant" and "".join(c.content or "" for c in chunks) == "Hello from SageMaker"
    )
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"] and chunks[-1].is_usage_only
    sent = server.requests[-1]
    assert sent.path == "/endpoints/openai-endpoint/invocations-response-stream"
    assert sent.headers["accept"] == "application/vnd.amazon.eventstream" and sent.json()["stream"] is True


async def test_a_model_stream_error_mid_stream_is_typed(sm: FakeSageMaker, server: FakeServer) -> None:
    text = openai_sse(["Hel", "lo"])
    cut = text[: text.index("[DONE]") - 200]
    server.queue(payload_stream(cut, extra=[stream_error_frame("model container crashed")]))
    with pytest.raises(StreamInterruptedError) as info:
        await call(TaskType.CHAT_COMPLETION, endpoint(server, TaskType.CHAT_COMPLETION))
    assert info.value.code == "ModelStreamError" and "model container crashed" in str(info.value)


@pytest.mark.parametrize(
    ("task", "api"), [(TaskType.RERANK, "openai"), (TaskType.SPARSE_EMBEDDING, "openai")]
)
async def test_es_api_task_rule_refuses_before_any_request(
    sm: FakeSageMaker, server: FakeServer, task: TaskType, api: str
) -> None:
    ep = endpoint(server, task, api=api)
    message = rf"Task \[{task.value}\] is not compatible for service \[sagemaker\] and api \[openai\]"
    async with context() as ctx:
        assert PROVIDER.on_save is not None
        with pytest.raises(ConfigValidationError, match=message):
            await PROVIDER.on_save(ep, ctx, False)
    assert server.requests == []


async def test_a_wrong_secret_fails_the_signature(sm: FakeSageMaker, server: FakeServer) -> None:
    good = endpoint(server, TaskType.COMPLETION)
    bad = InferenceEndpoint(
        inference_id="sm",
        task_type=TaskType.COMPLETION,
        settings=good.settings,
        secrets=Secrets({"access_key": good.secrets["access_key"], "secret_key": "canary-wrong-secret-00"}),
    )
    with pytest.raises(AuthenticationError) as info:
        await call(TaskType.COMPLETION, bad)
    assert info.value.code == "InvalidSignatureException" and "canary-wrong-secret-00" not in str(info.value)


@pytest.mark.parametrize("task", TASKS)
# The kinds beyond the cross-provider table (test_error_kinds.py holds the others).
@error_cases(
    model_error=model_error(400, "Input validation error: `inputs` must be non-empty"),
)
async def test_error_kinds(
    sm: FakeSageMaker, server: FakeServer, task: TaskType, answer: FakeResponse, expected: Any
) -> None:
    server.queue(answer)
    with pytest.raises(ProviderError) as info:
        await call(task, endpoint(server, task))
    assert_kind(info.value, expected, provider=PROVIDER.id, secret=CANARY)


class TestContract(ProviderContract):
    provider_id = "amazon_sagemaker"
    fake = sm_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return sm_testing.connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        server.add(
            "*",
            "/.*",
            aws_error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            ),
        )


async def test_a_character_split_across_payload_parts_arrives_whole(
    sm: FakeSageMaker, server: FakeServer
) -> None:
    # 7-byte parts cut the 4-byte emoji and the 2-byte é apart: decoded per part they became U+FFFD
    server.queue(payload_stream(openai_sse(["caf\u00e9 ", "\U0001f600 ok"]), part_size=7))
    chunks = await call(TaskType.CHAT_COMPLETION, endpoint(server, TaskType.CHAT_COMPLETION))
    assert "".join(c.content or "" for c in chunks) == "caf\u00e9 \U0001f600 ok"


async def test_payload_parts_that_never_close_an_event_end_in_the_size_cap(
    sm: FakeSageMaker, server: FakeServer
) -> None:
    # one event's data lines, never followed by its blank line, in 64 KiB parts: the host's event
    # cap (max_sse_event_bytes, lowered here) ends it, read linearly, before the stream runs out
    endless = ("data: " + "x" * 1000 + "\n") * 2100
    server.queue(payload_stream(endless, part_size=64 * 1024))
    ep = endpoint(server, TaskType.CHAT_COMPLETION)
    async with build_client() as client:
        ctx = CallContext(client=client, provider_id=PROVIDER.id, max_sse_event_bytes=256 * 1024)
        request = ChatRequest(messages=({"role": "user", "content": "Hi"},))
        with pytest.raises(ResponseTooLargeError, match="max_sse_event_bytes"):
            _ = [c async for c in PROVIDER.chat_completion_stream(ep, request, ctx)]


async def test_a_frame_declaring_more_than_aws_allows_is_refused(
    sm: FakeSageMaker, server: FakeServer
) -> None:
    # a prelude declaring 2**31 bytes (valid CRC): refused from its 12 bytes, nothing more buffered
    import struct
    import zlib

    head = struct.pack(">II", 2**31, 0)
    prelude = head + struct.pack(">I", zlib.crc32(head))
    server.queue(FakeResponse(chunks=[prelude], content_type="application/vnd.amazon.eventstream"))
    with pytest.raises(ResponseTooLargeError, match="event-stream message of 2147483648 bytes"):
        await call(TaskType.CHAT_COMPLETION, endpoint(server, TaskType.CHAT_COMPLETION))


async def test_a_stream_cut_inside_a_frame_is_interrupted(sm: FakeSageMaker, server: FakeServer) -> None:
    whole = payload_stream(openai_sse(["Hel", "lo"]))
    cut = [*whole.chunks[:-1], whole.chunks[-1][:9]]  # the last frame loses its end
    server.queue(FakeResponse(chunks=cut, content_type="application/vnd.amazon.eventstream"))
    with pytest.raises(StreamInterruptedError, match="ended inside an event-stream frame"):
        await call(TaskType.CHAT_COMPLETION, endpoint(server, TaskType.CHAT_COMPLETION))
