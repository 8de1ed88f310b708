"""The Amazon Bedrock provider against its wire-exact fake: SigV4 signatures verified by botocore,
ConverseStream's binary event stream, Titan and Cohere embeddings, and every documented error."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ai_connector_amazonbedrock.testing as amazonbedrock_testing
from ai_connector.aws_eventstream import FrameReader, decode_event
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.errors import UnreachableError
from ai_connector.http import build_client
from ai_connector.manager import check_provider
from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    StreamInterruptedError,
    TaskType,
    ToolCallDelta,
    Usage,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector_amazonbedrock import PROVIDER
from ai_connector_amazonbedrock.signing import sign
from ai_connector_amazonbedrock.testing import (
    TEST_CHAT_MODEL,
    TEST_COHERE_MODEL,
    TEST_REGION,
    TEST_TITAN_MODEL,
    FakeBedrock,
    access_denied,
    access_key_for,
    aws_error,
    connector,
    converse_stream_messages,
    encode_message,
    error_message,
    event_message,
    exception_message,
    fake_embedding,
    internal_server_error,
    invalid_model,
    model_not_found,
    serve_chat,
    service_quota_exceeded,
    service_unavailable,
    stream_response,
    throttled,
    unrecognized_client,
    validation_error,
    verify_signature,
)

CANARY = "canary-secret-bedrock-5f2e9a71c04d"
ACCESS_KEY = access_key_for(CANARY)
VECTORS = Path("/work/shared/wire-samples/aws-eventstream/decoded")
ENCODED_MODEL = "anthropic.claude-3-haiku-20240307-v1%3A0"
HELLO = ChatRequest(messages=({"role": "user", "content": "Hello world"},))


@pytest.fixture
def fake(server: FakeServer) -> FakeBedrock:
    return FakeBedrock(server)


def endpoint(
    base_url: str,
    task: TaskType = TaskType.CHAT_COMPLETION,
    *,
    settings: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    task_settings: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> InferenceEndpoint:
    config, creds = connector(base_url, task.value, secret=CANARY)
    config.update(settings or {})
    creds.update(secrets or {})
    return InferenceEndpoint(
        inference_id="bedrock-test",
        task_type=task,
        settings=config,
        secrets=Secrets(creds),
        task_settings=task_settings or {},
        headers=headers or {},
    )


@contextlib.asynccontextmanager
async def context(raw_paths: list[bytes] | None = None) -> AsyncIterator[CallContext]:
    """A call context with the canary redacted; `raw_paths` collects each request's wire path."""
    async with build_client() as client:
        if raw_paths is not None:

            async def record(request: httpx.Request) -> None:
                raw_paths.append(request.url.raw_path)

            client.event_hooks = {"request": [record]}
        yield CallContext(
            client=client,
            provider_id="amazonbedrock",
            redactor=Redactor([CANARY, ACCESS_KEY]),
            timeout=httpx.Timeout(10.0),
        )


async def collect(ep: InferenceEndpoint, request: ChatRequest = HELLO) -> list[ChatChunk]:
    async with context() as ctx:
        return [c async for c in PROVIDER.chat_completion_stream(ep, request, ctx)]


async def run_task(ep: InferenceEndpoint) -> Any:
    """Run the endpoint's own task once with a small input."""
    async with context() as ctx:
        if ep.task_type is TaskType.CHAT_COMPLETION:
            return [c async for c in PROVIDER.chat_completion_stream(ep, HELLO, ctx)]
        if ep.task_type is TaskType.COMPLETION:
            return await PROVIDER.completion(ep, CompletionRequest(input="What is Elastic?"), ctx)
        return await PROVIDER.text_embedding(ep, EmbeddingRequest(input=("Hello world",)), ctx)


def assert_no_canary(*texts: Any) -> None:
    for text in texts:
        assert CANARY not in str(text)
        assert ACCESS_KEY not in str(text)


def assert_signed(request: Any, signed: str = "content-type;host;x-amz-date") -> None:
    """The request carries botocore's SigV4 headers for the test key, region and service `bedrock`."""
    auth = request.headers["authorization"]
    date = request.headers["x-amz-date"]
    assert auth.startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{date[:8]}/{TEST_REGION}/bedrock/aws4_request, "
    )
    assert f"SignedHeaders={signed}, Signature=" in auth
    assert "x-amz-content-sha256" not in request.headers  # S3 only


# ---------------------------------------------------------------------------------------------
# Declaration


def test_declaration_matches_elasticsearch() -> None:
    assert check_provider(PROVIDER) == []
    assert PROVIDER.name == "Amazon Bedrock"
    assert PROVIDER.task_types == {TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING}
    assert set(PROVIDER.default_requests_per_minute.values()) == {240}
    configurations = service_descriptor(PROVIDER)["configurations"]
    # ES AmazonBedrockServiceTests.testGetConfiguration, field by field.
    expected = {
        "access_key": (
            "Access Key",
            "A valid AWS access key that has permissions to use Amazon Bedrock.",
            True,
            True,
        ),
        "secret_key": (
            "Secret Key",
            "A valid AWS secret key that is paired with the access_key.",
            True,
            True,
        ),
        "provider": ("Provider", "The model provider for your deployment.", True, False),
        "model": (
            "Model",
            "The base model ID or an ARN to a custom model based on a foundational model.",
            True,
            False,
        ),
        "region": ("Region", "The region that your model or ARN is deployed in.", True, False),
        "rate_limit.requests_per_minute": (
            "Rate Limit",
            "By default, the amazonbedrock service sets the number of requests allowed per minute to 240.",
            False,
            False,
        ),
    }
    for key, (label, description, required, sensitive) in expected.items():
        entry = configurations[key]
        assert (entry["label"], entry["description"], entry["required"], entry["sensitive"]) == (
            label,
            description,
            required,
            sensitive,
        )
        assert entry["updatable"] is sensitive
    assert configurations["dimensions"]["supported_task_types"] == ["text_embedding"]
    assert configurations["dimensions"]["type"] == "int"
    assert configurations["url"]["required"] is False


def test_urls_default_to_the_regional_runtime_with_the_model_id_encoded() -> None:
    ep = endpoint("http://unused")
    default = InferenceEndpoint(
        inference_id="x",
        task_type=TaskType.CHAT_COMPLETION,
        settings={k: v for k, v in ep.settings.items() if k != "url"} | {"region": "eu-west-3"},
        secrets=ep.secrets,
    )
    base = f"https://bedrock-runtime.eu-west-3.amazonaws.com/model/{ENCODED_MODEL}"
    assert PROVIDER.urls(default, {}) == [f"{base}/converse-stream", f"{base}/converse"]
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
    proxied = endpoint("https://proxy.example.com/bedrock/", TaskType.TEXT_EMBEDDING, settings={"model": arn})
    assert PROVIDER.urls(proxied, {}) == [
        "https://proxy.example.com/bedrock/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
        "inference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
    ]


def test_a_region_that_is_not_a_region_name_is_refused() -> None:
    ep = endpoint("http://unused")
    bad = InferenceEndpoint(
        inference_id="x",
        task_type=TaskType.COMPLETION,
        settings={"provider": "anthropic", "model": "m", "region": "evil.example.com/x"},
        secrets=ep.secrets,
    )
    with pytest.raises(ConfigValidationError, match="region"):
        PROVIDER.urls(bad, {})


@pytest.mark.parametrize(
    ("task", "settings", "task_settings", "message"),
    [
        (
            TaskType.TEXT_EMBEDDING,
            {"provider": "anthropic"},
            {},
            "The [text_embedding] task type for provider [anthropic] is not available",
        ),
        (
            TaskType.COMPLETION,
            {"provider": "amazontitan"},
            {"top_k": 0.2},
            "The [top_k] task parameter is not available for provider [amazontitan]",
        ),
        (
            TaskType.TEXT_EMBEDDING,
            {"provider": "amazontitan"},
            {"truncate": "START"},
            "The [text_embedding] task type for provider [amazontitan] does not allow [truncate] field",
        ),
    ],
)
async def test_save_refuses_what_elasticsearch_refuses(
    task: TaskType, settings: dict[str, Any], task_settings: dict[str, Any], message: str
) -> None:
    ep = endpoint("http://unused", task, settings=settings, task_settings=task_settings)
    async with context() as ctx:
        with pytest.raises(ConfigValidationError) as info:
            await PROVIDER.on_save(ep, ctx, False)
        result = await PROVIDER.test(ep, ctx)
    assert message in str(info.value)
    assert not result.ok and result.failure is FailureKind.CONFIG and message in result.message


# ---------------------------------------------------------------------------------------------
# Event-stream framing: the AWS SDKs' shared vectors


def _vector_headers(raw: list[dict[str, Any]]) -> list[tuple[str, int, Any]]:
    out = []
    for h in raw:
        value = h["value"]
        if h["type"] in (6, 7, 9):
            value = base64.b64decode(value)
            if h["type"] == 7:
                value = value.decode()
        out.append((h["name"], h["type"], value))
    return out


@pytest.mark.parametrize("path", sorted((VECTORS / "positive").glob("*.json")), ids=lambda p: p.stem)
def test_encoder_reproduces_the_positive_vectors_and_botocore_decodes_them(path: Path) -> None:
    from botocore.eventstream import EventStreamBuffer

    vector = json.loads(path.read_text())
    headers = _vector_headers(vector["headers"])
    payload = base64.b64decode(vector["payload"])
    frame = encode_message(headers, payload)
    total, headers_length, prelude_crc = struct.unpack(">III", frame[:12])
    assert total == vector["total_length"] == len(frame)
    assert headers_length == vector["headers_length"]
    assert prelude_crc == vector["prelude_crc"] & 0xFFFFFFFF
    assert struct.unpack(">I", frame[-4:])[0] == vector["message_crc"] & 0xFFFFFFFF
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    message = next(buffer)
    assert message.payload == payload
    assert message.headers == {
        name: value.bytes if hasattr(value, "bytes") else value for name, _type, value in headers
    }
    # Our reader, fed the frame a byte at a time, frames it identically.
    reader = FrameReader("amazonbedrock")
    decoded = [m for i in range(len(frame)) for m in reader.feed(frame[i : i + 1])]
    reader.finish()
    assert [(m.headers, m.payload) for m in decoded] == [(message.headers, payload)]


def _corrupt(name: str) -> bytes:
    """The negative vectors' corruptions, applied to a valid frame (the vector files carry only the
    text an SDK reports): a changed length field breaks the prelude CRC, a changed header or payload
    byte the message CRC."""
    frame = bytearray(encode_message([("content-type", 7, "application/json")], b"{'foo':'bar'}"))
    if name == "corrupted_length":
        frame[3] ^= 0x01
    elif name == "corrupted_header_len":
        frame[7] ^= 0x01
    elif name == "corrupted_headers":
        frame[14] ^= 0x20
    elif name == "corrupted_payload":
        frame[-6] ^= 0x20
    return bytes(frame)


@pytest.mark.parametrize("path", sorted((VECTORS / "negative").glob("*.txt")), ids=lambda p: p.stem)
def test_negative_vectors_are_refused(path: Path) -> None:
    frame = _corrupt(path.stem)
    expected = path.read_text().strip()
    prelude_ok = zlib.crc32(frame[:8]) == struct.unpack(">I", frame[8:12])[0]
    # The corruption is the kind the vector names...
    assert expected == ("Message checksum mismatch" if prelude_ok else "Prelude checksum mismatch")
    # ...and our decoding path refuses it.
    reader = FrameReader("amazonbedrock")
    with pytest.raises(InvalidResponseError, match="malformed event-stream frame"):
        list(reader.feed(frame + b"\x00" * 64))


def test_a_frame_cut_short_is_an_interrupted_stream() -> None:
    frame = event_message("messageStart", {"role": "assistant"})
    reader = FrameReader("amazonbedrock")
    assert list(reader.feed(frame[:-5])) == []
    with pytest.raises(StreamInterruptedError, match="incomplete message"):
        reader.finish()


def test_error_and_exception_messages_decode() -> None:
    reader = FrameReader("amazonbedrock")
    data = exception_message("throttlingException", "Too many tokens") + error_message(
        "InternalFailure", "boom"
    )
    first, second = (decode_event(m, "amazonbedrock") for m in reader.feed(data))
    assert (first.message_type, first.kind, first.body) == (
        "exception",
        "throttlingException",
        {"message": "Too many tokens"},
    )
    assert (second.message_type, second.kind, second.body) == (
        "error",
        "InternalFailure",
        {"message": "boom"},
    )


# ---------------------------------------------------------------------------------------------
# SigV4


async def test_every_request_is_signed_by_botocore_over_the_double_encoded_path(
    server: FakeServer, fake: FakeBedrock
) -> None:
    raw_paths: list[bytes] = []
    ep = endpoint(server.url, headers={"X-Tenant": "blue"})
    async with context(raw_paths) as ctx:
        chunks = [c async for c in PROVIDER.chat_completion_stream(ep, HELLO, ctx)]
    assert chunks[-1].usage is not None  # the fake verified the signature, else it answers 403
    sent = server.last
    assert raw_paths == [f"/model/{ENCODED_MODEL}/converse-stream".encode()]
    assert sent.headers["x-tenant"] == "blue"
    auth = sent.headers["authorization"]
    assert "SignedHeaders=content-type;host;x-amz-date;x-tenant, " in auth
    # The fake's own check agrees, and a request signed over the single-encoded path does not verify.
    assert verify_signature(sent, region=TEST_REGION, credentials={ACCESS_KEY: CANARY}) is None
    url = f"{server.url}/model/{ENCODED_MODEL}/converse"
    body = b'{"messages":[{"role":"user","content":[{"text":"Hello world"}]}]}'
    naive = sign(
        "POST",
        url.replace("%3A", ":"),  # signing the decoded id: canonical URI %3A instead of %253A
        body,
        {"Content-Type": "application/json"},
        access_key=ACCESS_KEY,
        secret_key=CANARY,
        region=TEST_REGION,
    )
    async with build_client() as client:
        resp = await client.post(url, content=body, headers=naive)
    assert resp.status_code == 403
    assert resp.headers["x-amzn-errortype"].startswith("InvalidSignatureException:")
    message = resp.json()["message"]
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    assert "\n'POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n\n" in message
    assert f"/{TEST_REGION}/bedrock/aws4_request\n" in message


async def test_an_arn_model_id_is_encoded_and_signed(server: FakeServer, fake: FakeBedrock) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
    raw_paths: list[bytes] = []
    async with context(raw_paths) as ctx:
        out = await PROVIDER.completion(
            endpoint(server.url, TaskType.COMPLETION, settings={"model": arn}),
            CompletionRequest(input="hi"),
            ctx,
        )
    assert out == [fake.reply]
    assert raw_paths[0].startswith(
        b"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
    )
    assert server.last.path == f"/model/{arn}/converse"


async def test_a_wrong_secret_is_a_credentials_error_without_the_canonical_dump(
    server: FakeServer, fake: FakeBedrock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "canary-wrong-secret-77aa0e"
    ep = endpoint(server.url, secrets={"secret_key": wrong})
    with pytest.raises(AuthenticationError) as info:
        await collect(ep)
    err = info.value
    assert (err.status, err.code, err.kind) == (403, "InvalidSignatureException", FailureKind.CREDENTIALS)
    assert err.provider_message == (
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details."
    )
    assert "Canonical String" not in str(err)
    assert_no_canary(str(err), repr(err), caplog.text)
    assert wrong not in caplog.text


async def test_an_unknown_access_key_is_a_credentials_error(server: FakeServer) -> None:
    FakeBedrock(server, credentials={})
    with pytest.raises(AuthenticationError) as info:
        await collect(endpoint(server.url))
    assert info.value.code == "UnrecognizedClientException"
    assert info.value.provider_message == "The security token included in the request is invalid."


async def test_an_unsigned_request_is_refused_by_the_fake(server: FakeServer, fake: FakeBedrock) -> None:
    async with build_client() as client:
        resp = await client.post(f"{server.url}/model/{ENCODED_MODEL}/converse", json={})
    assert resp.status_code == 403
    assert resp.headers["x-amzn-errortype"].split(":")[0] == "MissingAuthenticationTokenException"


# ---------------------------------------------------------------------------------------------
# Chat: ConverseStream


async def test_chat_stream_success_and_the_request_bedrock_saw(server: FakeServer, fake: FakeBedrock) -> None:
    ep = endpoint(
        server.url, task_settings={"temperature": 0.2, "top_p": 0.9, "top_k": 0.5, "max_new_tokens": 64}
    )
    request = ChatRequest(
        messages=(
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello world"},
        ),
        stop=["\n\nHuman:"],
    )
    chunks = await collect(ep, request)
    assert chunks == [
        ChatChunk(role="assistant"),
        ChatChunk(content="Hello"),
        ChatChunk(content="! How can I"),
        ChatChunk(content=" help you today?"),
        ChatChunk(finish_reason="stop"),
        ChatChunk(usage=Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12)),
    ]
    sent = server.last
    assert (sent.method, sent.path, sent.query_string) == (
        "POST",
        f"/model/{TEST_CHAT_MODEL}/converse-stream",
        "",
    )
    assert sent.headers["content-type"] == "application/json"
    assert_signed(sent)
    assert sent.json() == {
        "messages": [{"role": "user", "content": [{"text": "Hello world"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {
            "maxTokens": 64,
            "temperature": 0.2,
            "topP": 0.9,
            "stopSequences": ["\n\nHuman:"],
        },
        "additionalModelRequestFields": {"top_k": 0.5},
    }


async def test_request_values_win_over_task_settings_and_top_k_only_goes_to_its_families(
    server: FakeServer, fake: FakeBedrock
) -> None:
    ep = endpoint(
        server.url,
        settings={"provider": "meta", "model": "meta.llama3-8b-instruct-v1:0"},
        task_settings={"temperature": 0.2, "max_new_tokens": 64},
    )
    await collect(ep, ChatRequest(messages=HELLO.messages, temperature=0.7, max_tokens=5, top_p=0.5))
    assert server.last.json()["inferenceConfig"] == {"maxTokens": 5, "temperature": 0.7, "topP": 0.5}
    assert "additionalModelRequestFields" not in server.last.json()


async def test_tools_and_tool_turns_are_translated(server: FakeServer, fake: FakeBedrock) -> None:
    fake.pieces = ("Let me check.",)
    fake.stop_reason = "tool_use"
    fake.tool_calls = (("tooluse_2", "get_weather", ('{"city":', ' "Paris"}')),)
    request = ChatRequest(
        messages=(
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Lyon and Nice?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "tooluse_0",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                    },
                    {
                        "id": "tooluse_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Nice"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "tooluse_0", "content": "18C"},
            {"role": "tool", "tool_call_id": "tooluse_1", "content": "22C"},
            {"role": "user", "content": "And Paris?"},
        ),
        tools=(
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            },
        ),
        tool_choice="required",
    )
    chunks = await collect(endpoint(server.url), request)
    assert chunks == [
        ChatChunk(role="assistant"),
        ChatChunk(content="Let me check."),
        ChatChunk(tool_calls=(ToolCallDelta(index=0, id="tooluse_2", name="get_weather", arguments=""),)),
        ChatChunk(tool_calls=(ToolCallDelta(index=0, arguments='{"city":'),)),
        ChatChunk(tool_calls=(ToolCallDelta(index=0, arguments=' "Paris"}'),)),
        ChatChunk(finish_reason="tool_calls"),
        ChatChunk(usage=Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12)),
    ]
    assert server.last.json() == {
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Lyon and Nice?"}]},
            {
                "role": "assistant",
                "content": [
                    {"toolUse": {"toolUseId": "tooluse_0", "name": "get_weather", "input": {"city": "Lyon"}}},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Nice"}}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "tooluse_0", "content": [{"text": "18C"}]}},
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "22C"}]}},
                    {"text": "And Paris?"},
                ],
            },
        ],
        "system": [{"text": "You are a weather bot."}],
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "inputSchema": {
                            "json": {"type": "object", "properties": {"city": {"type": "string"}}}
                        },
                    }
                }
            ],
            "toolChoice": {"any": {}},
        },
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"auto": {}}),
        ({"type": "function", "function": {"name": "f"}}, {"tool": {"name": "f"}}),
        ("none", None),
    ],
)
async def test_tool_choice_forms(server: FakeServer, fake: FakeBedrock, choice: Any, expected: Any) -> None:
    tools = ({"type": "function", "function": {"name": "f"}},)
    await collect(endpoint(server.url), ChatRequest(messages=HELLO.messages, tools=tools, tool_choice=choice))
    body = server.last.json()
    if expected is None:
        assert "toolConfig" not in body
    else:
        assert body["toolConfig"]["toolChoice"] == expected
        assert body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {
            "json": {"type": "object", "properties": {}}
        }


async def test_tool_arguments_that_are_not_json_are_refused_before_sending(
    server: FakeServer, fake: FakeBedrock
) -> None:
    request = ChatRequest(
        messages=(
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{oops"}}],
            },
        )
    )
    with pytest.raises(InvalidRequestError, match="not JSON"):
        await collect(endpoint(server.url), request)
    assert server.requests == []


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
    ],
)
async def test_stop_reasons_become_openai_finish_reasons(
    server: FakeServer, fake: FakeBedrock, stop_reason: str, finish: str
) -> None:
    fake.stop_reason = stop_reason
    chunks = await collect(endpoint(server.url))
    assert [c.finish_reason for c in chunks if c.finish_reason] == [finish]


async def test_frames_split_across_reads_decode_the_same(server: FakeServer, fake: FakeBedrock) -> None:
    fake.chunk_size = 7
    chunks = await collect(endpoint(server.url))
    assert "".join(c.content or "" for c in chunks) == "Hello! How can I help you today?"
    assert chunks[-1].usage == Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12)


@pytest.mark.parametrize(
    ("exception", "message"),
    [
        ("throttlingException", "Too many tokens, please wait before trying again."),
        ("modelStreamErrorException", "The model stream encountered an error."),
        ("internalServerException", "The server encountered an internal error."),
        ("validationException", "Input is too long for requested model."),
        ("serviceUnavailableException", "Service is currently unavailable."),
    ],
)
async def test_a_mid_stream_exception_event_interrupts_the_stream(
    server: FakeServer, fake: FakeBedrock, exception: str, message: str
) -> None:
    events = [*converse_stream_messages(["Hel", "lo"])[:3], exception_message(exception, message)]
    fake.override = stream_response(events)
    seen: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError) as info:
        async with context() as ctx:
            async for chunk in PROVIDER.chat_completion_stream(endpoint(server.url), HELLO, ctx):
                seen.append(chunk)
    assert [c.content for c in seen] == [None, "Hel", "lo"]
    assert info.value.code == exception and info.value.provider_message == message
    assert message in str(info.value)


async def test_an_error_message_in_the_stream_interrupts_it(server: FakeServer, fake: FakeBedrock) -> None:
    fake.override = stream_response(
        [*converse_stream_messages(["a"])[:2], error_message("InternalFailure", "boom")]
    )
    with pytest.raises(StreamInterruptedError, match="InternalFailure: boom"):
        await collect(endpoint(server.url))


async def test_a_stream_that_breaks_halfway(server: FakeServer, fake: FakeBedrock) -> None:
    fake.override = stream_response(converse_stream_messages(["Hel", "lo", "!"]), abort_after=3)
    with pytest.raises(StreamInterruptedError, match="broke off"):
        await collect(endpoint(server.url))


async def test_a_stream_that_ends_inside_a_frame(server: FakeServer, fake: FakeBedrock) -> None:
    data = b"".join(converse_stream_messages(["Hel", "lo"]))
    fake.override = stream_response([data[:-10]])
    with pytest.raises(StreamInterruptedError, match="inside an event-stream frame"):
        await collect(endpoint(server.url))


async def test_a_stream_that_ends_before_message_stop(server: FakeServer, fake: FakeBedrock) -> None:
    fake.override = stream_response(converse_stream_messages(["Hel", "lo"])[:3])
    with pytest.raises(StreamInterruptedError, match="before its messageStop"):
        await collect(endpoint(server.url))


async def test_a_corrupted_frame_in_the_stream_is_an_invalid_response(
    server: FakeServer, fake: FakeBedrock
) -> None:
    events = converse_stream_messages(["Hel", "lo"])
    bad = bytearray(events[1])
    bad[-6] ^= 0x01
    fake.override = stream_response([events[0], bytes(bad), *events[2:]])
    with pytest.raises(InvalidResponseError, match="Checksum mismatch"):
        await collect(endpoint(server.url))


async def test_malformed_event_payloads_are_invalid_responses(server: FakeServer, fake: FakeBedrock) -> None:
    not_json = encode_message(
        [
            (":event-type", 7, "contentBlockDelta"),
            (":content-type", 7, "application/json"),
            (":message-type", 7, "event"),
        ],
        b"{not json",
    )
    fake.override = stream_response([event_message("messageStart", {"role": "assistant"}), not_json])
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await collect(endpoint(server.url))
    fake.override = stream_response([event_message("contentBlockDelta", {"delta": {"text": 3}})])
    with pytest.raises(InvalidResponseError):
        await collect(endpoint(server.url))


async def test_a_json_answer_where_an_event_stream_belongs_is_invalid(
    server: FakeServer, fake: FakeBedrock
) -> None:
    fake.override = FakeResponse.json({"output": {}})
    with pytest.raises(InvalidResponseError, match=r"not application/vnd\.amazon\.eventstream"):
        await collect(endpoint(server.url))


async def test_unknown_events_and_padding_are_ignored(server: FakeServer, fake: FakeBedrock) -> None:
    events = converse_stream_messages(["ok"])
    extra = [
        event_message(
            "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hm"}}}
        ),
        event_message("someFutureEvent", {"x": 1}),
    ]
    fake.override = stream_response([events[0], *extra, *events[1:]])
    chunks = await collect(endpoint(server.url))
    assert [c.content for c in chunks if c.content] == ["ok"]


def test_the_stream_decoder_stays_within_the_per_chunk_budget() -> None:
    import time

    from ai_connector_amazonbedrock.converse import ConverseStreamTranslator

    data = b"".join(converse_stream_messages(["token"] * 2000))
    start = time.perf_counter()
    reader, translator = FrameReader("amazonbedrock"), ConverseStreamTranslator("amazonbedrock")
    count = 0
    for i in range(0, len(data), 4096):
        for message in reader.feed(data[i : i + 4096]):
            if translator.translate(decode_event(message, "amazonbedrock")) is not None:
                count += 1
    per_chunk = (time.perf_counter() - start) / count
    assert count == 2003
    assert per_chunk < 200e-6  # generous for shared CI machines; about 9 µs on a laptop


# ---------------------------------------------------------------------------------------------
# Errors, for every task type


ALL_TASKS = [TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING]


@pytest.mark.parametrize("task", ALL_TASKS)
@pytest.mark.parametrize(
    ("answer", "cls", "code", "retryable"),
    [
        (access_denied(), AuthenticationError, "AccessDeniedException", False),
        (
            aws_error(
                403,
                "AccessDeniedException",
                "User: arn:aws:iam::1:user/x is not authorized to perform: bedrock:InvokeModel",
                message_key="Message",
            ),
            AuthenticationError,
            "AccessDeniedException",
            False,
        ),
        (invalid_model(), ModelNotFoundError, "ValidationException", False),
        (model_not_found(), ModelNotFoundError, "ResourceNotFoundException", False),
        (
            validation_error("Input is too long for requested model."),
            InvalidRequestError,
            "ValidationException",
            False,
        ),
        (throttled(), RateLimitError, "ThrottlingException", True),
        (service_quota_exceeded(), RateLimitError, "ServiceQuotaExceededException", False),
        (
            aws_error(424, "ModelErrorException", "The model failed."),
            ProviderServerError,
            "ModelErrorException",
            False,
        ),
        (internal_server_error(), ProviderServerError, "InternalServerException", True),
        (service_unavailable(), ProviderServerError, "ServiceUnavailableException", True),
    ],
    ids=["403-denied", "403-iam", "400-model", "404-model", "400-other", "429", "quota", "424", "500", "503"],
)
async def test_documented_errors_map_to_typed_errors(
    server: FakeServer,
    fake: FakeBedrock,
    task: TaskType,
    answer: FakeResponse,
    cls: type,
    code: str,
    retryable: bool,
) -> None:
    fake.override = answer
    with pytest.raises(ProviderError) as info:
        await run_task(endpoint(server.url, task))
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.retryable, err.retry_after) == (answer.status, code, retryable, None)
    body = answer.body
    assert err.provider_message == (body.get("message") or body.get("Message"))
    assert_no_canary(str(err), repr(err))


async def test_a_retry_hint_added_by_a_proxy_is_honoured(server: FakeServer, fake: FakeBedrock) -> None:
    answer = throttled()
    answer.headers = {**answer.headers, "retry-after": "7"}
    fake.override = answer
    with pytest.raises(RateLimitError) as info:
        await run_task(endpoint(server.url, TaskType.COMPLETION))
    assert info.value.retry_after == 7.0


async def test_the_error_code_falls_back_to_the_body(server: FakeServer, fake: FakeBedrock) -> None:
    fake.override = FakeResponse.json(
        {
            "__type": "com.amazon.coral.service#UnrecognizedClientException",
            "message": "The security token included in the request is invalid.",
        },
        status=403,
    )
    with pytest.raises(AuthenticationError) as info:
        await run_task(endpoint(server.url, TaskType.COMPLETION))
    assert info.value.code == "UnrecognizedClientException"


async def test_an_error_body_that_is_not_json_keeps_its_text(server: FakeServer, fake: FakeBedrock) -> None:
    fake.override = FakeResponse(status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(ProviderServerError) as info:
        await run_task(endpoint(server.url, TaskType.CHAT_COMPLETION))
    assert info.value.provider_message == "<html>Bad Gateway</html>" and info.value.code is None


@pytest.mark.parametrize("task", [TaskType.COMPLETION, TaskType.TEXT_EMBEDDING])
async def test_malformed_json_is_an_invalid_response(
    server: FakeServer, fake: FakeBedrock, task: TaskType
) -> None:
    fake.override = FakeResponse(status=200, body=b'{"output": {"mess', content_type="application/json")
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await run_task(endpoint(server.url, task))
    fake.override = FakeResponse.json({"unexpected": True})
    with pytest.raises(InvalidResponseError):
        await run_task(endpoint(server.url, task))


@pytest.mark.parametrize("task", ALL_TASKS)
async def test_an_unreachable_host_is_typed(task: TaskType) -> None:
    with pytest.raises(UnreachableError) as info:
        await run_task(endpoint("http://127.0.0.1:9", task))
    assert_no_canary(str(info.value))


# ---------------------------------------------------------------------------------------------
# Completion (Converse)


async def test_completion_is_one_converse_call(server: FakeServer, fake: FakeBedrock) -> None:
    ep = endpoint(server.url, TaskType.COMPLETION, task_settings={"max_new_tokens": 100, "top_p": 0.4})
    async with context() as ctx:
        assert await PROVIDER.completion(ep, CompletionRequest(input="What is Elastic?"), ctx) == [fake.reply]
    sent = server.last
    assert sent.path == f"/model/{TEST_CHAT_MODEL}/converse"
    assert_signed(sent)
    assert sent.json() == {
        "messages": [{"role": "user", "content": [{"text": "What is Elastic?"}]}],
        "inferenceConfig": {"maxTokens": 100, "topP": 0.4},
    }


# ---------------------------------------------------------------------------------------------
# Embeddings (InvokeModel)


async def test_titan_embeds_one_input_per_request(server: FakeServer, fake: FakeBedrock) -> None:
    ep = endpoint(server.url, TaskType.TEXT_EMBEDDING, settings={"dimensions": 256})
    async with context() as ctx:
        vectors = await PROVIDER.text_embedding(
            ep, EmbeddingRequest(input=("alpha", "beta"), input_type="ingest"), ctx
        )
    assert vectors == [fake_embedding("alpha", 256), fake_embedding("beta", 256)]
    assert [r.path for r in server.requests] == [f"/model/{TEST_TITAN_MODEL}/invoke"] * 2
    assert [r.json() for r in server.requests] == [
        {"inputText": "alpha", "dimensions": 256},
        {"inputText": "beta", "dimensions": 256},
    ]
    for sent in server.requests:
        assert_signed(sent, "accept;content-type;host;x-amz-date")
        assert sent.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("input_type", "cohere_type"),
    [("ingest", "search_document"), ("search", "search_query"), (None, "search_document")],
)
async def test_cohere_embeds_in_batches_with_its_input_type(
    server: FakeServer, fake: FakeBedrock, input_type: str | None, cohere_type: str
) -> None:
    fake.embedding_dimensions = 4
    ep = endpoint(
        server.url,
        TaskType.TEXT_EMBEDDING,
        settings={"provider": "cohere", "model": TEST_COHERE_MODEL},
        task_settings={"truncate": "END"},
    )
    texts = tuple(f"text {i}" for i in range(100))
    async with context() as ctx:
        vectors = await PROVIDER.text_embedding(ep, EmbeddingRequest(input=texts, input_type=input_type), ctx)
    assert vectors == [fake_embedding(t, 4) for t in texts]
    assert [r.json() for r in server.requests] == [
        {"texts": list(texts[:96]), "input_type": cohere_type, "truncate": "END"},
        {"texts": list(texts[96:]), "input_type": cohere_type, "truncate": "END"},
    ]
    assert server.last.path == f"/model/{TEST_COHERE_MODEL}/invoke"


async def test_embedding_answers_of_the_wrong_shape_are_invalid(
    server: FakeServer, fake: FakeBedrock
) -> None:
    cohere = endpoint(
        server.url, TaskType.TEXT_EMBEDDING, settings={"provider": "cohere", "model": TEST_COHERE_MODEL}
    )
    fake.override = FakeResponse.json({"embeddings": [[0.1]], "response_type": "embeddings_floats"})
    with pytest.raises(InvalidResponseError, match="expected 2 embeddings"):
        async with context() as ctx:
            await PROVIDER.text_embedding(cohere, EmbeddingRequest(input=("a", "b")), ctx)
    fake.override = FakeResponse.json({"embedding": ["x"], "inputTextTokenCount": 1})
    with pytest.raises(InvalidResponseError, match="not a list of numbers"):
        await run_task(endpoint(server.url, TaskType.TEXT_EMBEDDING))


async def test_the_fake_refuses_what_titan_refuses(server: FakeServer, fake: FakeBedrock) -> None:
    ep = endpoint(server.url, TaskType.TEXT_EMBEDDING, settings={"dimensions": 300})
    with pytest.raises(InvalidRequestError) as info:
        await run_task(ep)
    assert info.value.provider_message.startswith("Malformed input request: #/dimensions: 300")


# ---------------------------------------------------------------------------------------------
# Save & test


@pytest.mark.parametrize("task", [TaskType.CHAT_COMPLETION, TaskType.COMPLETION])
async def test_save_and_test_is_a_one_token_converse(
    server: FakeServer, fake: FakeBedrock, task: TaskType
) -> None:
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert result.ok and result.failure is None
    assert [r.path for r in server.requests] == [f"/model/{TEST_CHAT_MODEL}/converse"]
    assert server.last.json() == {
        "messages": [{"role": "user", "content": [{"text": "Hello world"}]}],
        "inferenceConfig": {"maxTokens": 1},
    }
    assert_signed(server.last)


async def test_save_and_test_embeds_hello_world(server: FakeServer, fake: FakeBedrock) -> None:
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(server.url, TaskType.TEXT_EMBEDDING), ctx)
    assert result.ok
    assert server.last.path == f"/model/{TEST_TITAN_MODEL}/invoke"
    assert server.last.json() == {"inputText": "Hello world"}


@pytest.mark.parametrize(
    ("setup", "failure", "status"),
    [
        (lambda f: setattr(f, "credentials", {}), FailureKind.CREDENTIALS, 403),
        (lambda f: setattr(f, "override", invalid_model()), FailureKind.MODEL_NOT_FOUND, 400),
        (lambda f: setattr(f, "override", model_not_found()), FailureKind.MODEL_NOT_FOUND, 404),
        (lambda f: setattr(f, "override", throttled()), FailureKind.RATE_LIMITED, 429),
        (lambda f: setattr(f, "override", internal_server_error()), FailureKind.PROVIDER_ERROR, 500),
        (
            lambda f: setattr(
                f, "override", FakeResponse(status=200, body=b"{", content_type="application/json")
            ),
            FailureKind.INVALID_RESPONSE,
            200,
        ),
    ],
    ids=["credentials", "invalid-model", "model-404", "throttled", "500", "malformed"],
)
@pytest.mark.parametrize("task", ALL_TASKS)
async def test_save_and_test_failure_kinds(
    server: FakeServer,
    fake: FakeBedrock,
    caplog: pytest.LogCaptureFixture,
    task: TaskType,
    setup: Any,
    failure: FailureKind,
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    setup(fake)
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert not result.ok and result.failure is failure and result.status_code == status
    assert_no_canary(result.message, repr(result), result.to_dict(), caplog.text)


async def test_save_and_test_wrong_secret_and_unreachable(
    server: FakeServer, fake: FakeBedrock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with context() as ctx:
        wrong = await PROVIDER.test(endpoint(server.url, secrets={"secret_key": "not-the-secret"}), ctx)
        down = await PROVIDER.test(endpoint("http://127.0.0.1:9", TaskType.TEXT_EMBEDDING), ctx)
    assert wrong.failure is FailureKind.CREDENTIALS and "signature we calculated" in wrong.message
    assert down.failure is FailureKind.UNREACHABLE
    assert_no_canary(wrong, down, caplog.text)


async def test_an_unknown_model_id_fails_the_test_as_model_not_found(server: FakeServer) -> None:
    FakeBedrock(server, models=[TEST_TITAN_MODEL])
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(server.url, settings={"model": "anthropic.claude-9"}), ctx)
    assert result.failure is FailureKind.MODEL_NOT_FOUND
    assert "The provided model identifier is invalid." in result.message


# ---------------------------------------------------------------------------------------------
# The reusable fake's cross-provider helpers


async def test_connector_and_serve_chat(server: FakeServer) -> None:
    serve_chat(server, ["Hi", " there"], prompt_tokens=3, completion_tokens=2)
    config, secrets = connector(server.url, secret="another-canary-secret-1")
    ep = InferenceEndpoint(
        inference_id="x", task_type=TaskType.CHAT_COMPLETION, settings=config, secrets=Secrets(secrets)
    )
    async with context() as ctx:
        chunks = [c async for c in PROVIDER.chat_completion_stream(ep, HELLO, ctx)]
    assert "".join(c.content or "" for c in chunks) == "Hi there"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    assert secrets["secret_key"] not in json.dumps(config)


def test_the_fake_answers_unknown_keys_as_aws_does() -> None:
    assert unrecognized_client().status == 403
    assert unrecognized_client().headers["x-amzn-errortype"].startswith("UnrecognizedClientException:http://")


# ---------------------------------------------------------------------------------------------
# The contract kit


class TestContract(ProviderContract):
    provider_id = "amazonbedrock"
    fake = amazonbedrock_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict[str, Any], dict[str, Any]]:
        config, _ = connector(base_url, task_type.value, secret=self.canary)
        return config, {"access_key": self.canary, "secret_key": self.canary}

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        FakeBedrock(server, credentials={})
