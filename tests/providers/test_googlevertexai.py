"""Google Vertex AI against its wire-exact fake: a service-account key exchanged for a token, Gemini
chat/completion, embeddings, Discovery Engine rerank, Google's error bodies and *Save & test*."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import jsonschema
import pytest

import ai_connector_googlevertexai as plugin
import ai_connector_googlevertexai.testing as googlevertexai_testing
from ai_connector.errors import UnreachableError
from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
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
    RerankRequest,
    RerankResult,
    StreamInterruptedError,
    TaskType,
    ToolCallDelta,
    Usage,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets, thaw
from ai_connector_gemini.testing import generate_response, sse, text_stream
from ai_connector_googlevertexai import calls
from ai_connector_googlevertexai.testing import (
    CHAT_MODEL,
    CLIENT_EMAIL,
    EMBEDDING_MODEL,
    MID_STREAM_CANCELLED,
    FakeVertexAI,
    connector,
    internal_error,
    model_not_found,
    permission_denied,
    quota_exceeded,
    resource_exhausted,
    serve_chat,
    service_account_json,
    signing_key,
    unauthenticated,
)

CANARY = "canary-secret-0000"
BASE = "/v1/projects/test-project/locations/us-central1/publishers/google/models"


@pytest.fixture(autouse=True)
def fresh_tokens() -> Iterator[None]:
    calls.TOKENS.clear()
    yield
    calls.TOKENS.clear()


@pytest.fixture
def fake(server: FakeServer) -> FakeVertexAI:
    return FakeVertexAI(server)


def endpoint_for(base_url: str, task: str = "chat_completion", **settings: object) -> InferenceEndpoint:
    config, secrets = connector(base_url, task, secret=CANARY)
    config.update(settings)
    return InferenceEndpoint(
        inference_id="vertex-test",
        task_type=TaskType(task),
        settings=config,
        secrets=Secrets(secrets),
        headers={"x-custom": "kept"},
    )


def context(client, endpoint: InferenceEndpoint) -> CallContext:
    # As the host builds it: every secret value, here the whole key JSON (so a leaked fragment of it,
    # such as the canary key id, would not be masked and the assertions below would see it).
    return CallContext(
        client=client,
        provider_id="googlevertexai",
        redactor=Redactor(endpoint.secrets.values_for_redaction()),
    )


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def assert_no_secret(*texts: object) -> None:
    private_key_body = signing_key()[0].splitlines()[1]
    for text in texts:
        assert CANARY not in str(text) and private_key_body not in str(text)
        assert "ya29." not in str(text)


async def chat(endpoint: InferenceEndpoint, request: ChatRequest | None = None) -> list:
    request = request or ChatRequest(messages=[{"role": "user", "content": "Hello world"}])
    async with build_client() as client:
        ctx = context(client, endpoint)
        return [c async for c in plugin.PROVIDER.chat_completion_stream(endpoint, request, ctx)]


async def raises(endpoint: InferenceEndpoint, task: str = "chat_completion") -> ProviderError:
    """The error the connector's call for `task` raises (checked for secrets on the way)."""
    async with build_client() as client:
        ctx = context(client, endpoint)
        with pytest.raises(ProviderError) as info:
            if task == "chat_completion":
                async for _ in plugin.PROVIDER.chat_completion_stream(
                    endpoint, ChatRequest(messages=[{"role": "user", "content": "Hi"}]), ctx
                ):
                    pass
            elif task == "completion":
                await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="Hi"), ctx)
            elif task == "text_embedding":
                await plugin.PROVIDER.text_embedding(endpoint, EmbeddingRequest(input=["Hi"]), ctx)
            else:
                await plugin.PROVIDER.rerank(endpoint, RerankRequest(query="q", input=["a", "b"]), ctx)
    err = info.value
    assert_no_secret(str(err), repr(err), err.provider_message)
    return err


async def run_test_routine(endpoint: InferenceEndpoint):
    async with build_client() as client:
        result = await plugin.PROVIDER.test(endpoint, context(client, endpoint))
    assert_no_secret(result.message, result.to_dict())
    return result


# --- the declaration -----------------------------------------------------------------------------


def test_provider_declares_es_fields_task_types_and_defaults() -> None:
    (provider,) = list(plugin.ai_connector_providers())
    assert (provider.id, provider.name) == ("googlevertexai", "Google Vertex AI")
    assert provider.task_types == {
        TaskType.CHAT_COMPLETION,
        TaskType.COMPLETION,
        TaskType.TEXT_EMBEDDING,
        TaskType.RERANK,
    }
    meta = json.loads((Path(__file__).parents[2] / "schemas" / "provider-schema.meta.json").read_text())
    for schema in (provider.settings_schema, provider.auth_schema):
        jsonschema.validate(thaw(schema), meta)
        jsonschema.Draft202012Validator.check_schema(thaw(schema))
    settings = provider.settings_schema["properties"]
    assert settings["location"]["title"] == "GCP Region"
    assert settings["location"]["x-task-types"] == ("text_embedding", "chat_completion", "completion")
    assert settings["project_id"]["title"] == "GCP Project"
    secret = provider.auth_schema["properties"]["service_account_json"]
    assert secret["title"] == "Credentials JSON" and secret["x-sensitive"] and secret["x-format"] == "json"
    assert provider.default_requests_per_minute[TaskType.TEXT_EMBEDDING] == 30_000
    assert provider.default_requests_per_minute[TaskType.RERANK] == 300


def test_urls_name_the_regional_host_discovery_engine_and_token_endpoint() -> None:
    config, secrets = connector("http://unused", "chat_completion")
    config.pop("url")
    chat_endpoint = InferenceEndpoint("i", TaskType.CHAT_COMPLETION, config, Secrets(secrets))
    assert calls.urls(chat_endpoint, {}) == [
        f"https://us-central1-aiplatform.googleapis.com{BASE}/{CHAT_MODEL}:generateContent",
        "http://unused/token",
    ]
    global_endpoint = InferenceEndpoint("i", TaskType.COMPLETION, {**config, "location": "global"}, Secrets())
    assert calls.urls(global_endpoint, {})[0].startswith(
        "https://aiplatform.googleapis.com/v1/projects/test-project/locations/global/"
    )
    rerank_endpoint = InferenceEndpoint("i", TaskType.RERANK, {"project_id": "p", "model_id": "m"}, Secrets())
    assert calls.urls(rerank_endpoint, {}) == [
        "https://discoveryengine.googleapis.com/v1/projects/p/locations/global/rankingConfigs/default_ranking_config:rank"
    ]


async def test_a_region_that_would_change_the_host_is_refused(server: FakeServer, fake: FakeVertexAI) -> None:
    endpoint = endpoint_for(server.url, location="evil.example.com/#")
    with pytest.raises(ConfigValidationError, match="GCP Region"):
        await chat(endpoint)
    assert server.requests == []


# --- auth: the token exchange --------------------------------------------------------------------


async def test_chat_streams_after_a_signed_jwt_bearer_exchange(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    fake.serve_stream(["Hel", "lo", "!"], prompt_tokens=3, completion_tokens=4)
    chunks = await chat(endpoint_for(server.url))

    token_request, call = server.requests
    assert token_request.path == "/token"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(token_request.body.decode()).items()}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    from google.auth import jwt

    header = jwt.decode_header(form["assertion"])
    claims = jwt.decode(
        form["assertion"], certs=signing_key()[1], audience="https://oauth2.googleapis.com/token"
    )
    assert header == {"alg": "RS256", "typ": "JWT", "kid": CANARY}
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert claims["exp"] - claims["iat"] == 3600

    assert call.path == f"{BASE}/{CHAT_MODEL}:streamGenerateContent" and call.query == {"alt": "sse"}
    assert call.headers["authorization"].startswith("Bearer ya29.fake-access-token-")
    assert call.headers["x-custom"] == "kept"
    assert call.json() == {"contents": [{"role": "user", "parts": [{"text": "Hello world"}]}]}

    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "Hello!"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage == Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)


async def test_token_is_cached_then_refreshed_shortly_before_expiry(
    server: FakeServer, fake: FakeVertexAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.serve_generate("ok")
    endpoint = endpoint_for(server.url, "completion")
    now = [1000.0]
    monkeypatch.setattr(calls.TOKENS, "clock", lambda: now[0])
    async with build_client() as client:
        ctx = context(client, endpoint)
        await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="a"), ctx)
        await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="b"), ctx)
        assert fake.token_requests == 1
        now[0] += 3599 - 300 - 1  # still inside the refresh margin
        await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="c"), ctx)
        assert fake.token_requests == 1
        now[0] += 2
        await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="d"), ctx)
    assert fake.token_requests == 2
    tokens = [r.headers["authorization"] for r in server.requests if r.path != "/token"]
    assert tokens[0] == tokens[1] == tokens[2] != tokens[3]


async def test_concurrent_calls_with_a_cold_cache_exchange_once(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    fake.serve_generate("ok")
    endpoint = endpoint_for(server.url, "completion")
    async with build_client() as client:
        ctx = context(client, endpoint)
        answers = await asyncio.gather(
            *(plugin.PROVIDER.completion(endpoint, CompletionRequest(input=str(i)), ctx) for i in range(6))
        )
    assert answers == [["ok"]] * 6 and fake.token_requests == 1


async def test_a_revoked_token_is_a_credentials_error_and_is_not_reused(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    fake.serve_generate("ok")
    endpoint = endpoint_for(server.url, "completion")
    async with build_client() as client:
        ctx = context(client, endpoint)
        await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="a"), ctx)
        fake.revoke()
        with pytest.raises(AuthenticationError) as info:
            await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="b"), ctx)
        assert info.value.status == 401 and "invalid authentication credentials" in str(info.value)
        assert await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="c"), ctx) == ["ok"]
    assert fake.token_requests == 2


async def test_token_endpoint_invalid_grant_is_a_credentials_failure(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    fake.reject_tokens("Invalid JWT Signature.")
    fake.serve_generate("never")
    err = await raises(endpoint_for(server.url, "completion"), "completion")
    assert isinstance(err, AuthenticationError) and err.code == "invalid_grant"
    assert "Invalid JWT Signature." in str(err)
    result = await run_test_routine(endpoint_for(server.url))
    assert not result.ok and result.failure is FailureKind.CREDENTIALS


async def test_a_key_signed_by_another_private_key_is_refused_by_google(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    other = signing_key("stranger")[0]
    endpoint = endpoint_for(server.url)
    endpoint = InferenceEndpoint(
        "i",
        TaskType.CHAT_COMPLETION,
        endpoint.settings,
        Secrets({"service_account_json": service_account_json(server.url + "/token", private_key=other)}),
    )
    result = await run_test_routine(endpoint)
    assert not result.ok and result.failure is FailureKind.CREDENTIALS
    assert "Invalid JWT Signature" in result.message


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ('{"type": "service_account", "private_key": "canary-secret-0000 truncated', "not valid JSON"),
        ('["canary-secret-0000"]', "not a JSON object"),
        ('{"type": "authorized_user", "refresh_token": "canary-secret-0000"}', "not a service account key"),
        ('{"private_key_id": "canary-secret-0000", "client_email": "a@b"}', "has no private_key"),
        (
            '{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----canary-secret-0000"}',
            "not a usable RSA key",
        ),
    ],
)
async def test_a_bad_credentials_json_is_named_never_echoed(
    server: FakeServer, fake: FakeVertexAI, secret: str, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base = endpoint_for(server.url)
    endpoint = InferenceEndpoint(
        "i", TaskType.CHAT_COMPLETION, base.settings, Secrets({"service_account_json": secret})
    )
    err = await raises(endpoint)
    assert isinstance(err, AuthenticationError)
    assert "Credentials JSON (service_account_json)" in str(err) and problem in str(err)
    assert err.__context__ is None and err.__cause__ is None
    result = await run_test_routine(endpoint)
    assert result.failure is FailureKind.CREDENTIALS
    assert_no_secret(caplog.text)
    assert server.requests == []


# --- chat ----------------------------------------------------------------------------------------


async def test_function_calls_stream_as_tool_calls(server: FakeServer, fake: FakeVertexAI) -> None:
    answer = generate_response(
        None,
        function_calls=[{"name": "lookup", "args": {"q": "Cheyenne"}}],
        finish_reason="STOP",
        usage={"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
    )
    fake.serve_stream_chunks(sse([answer]))
    request = ChatRequest(
        messages=[{"role": "user", "content": "Capital of Wyoming?"}],
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        tool_choice="auto",
        max_tokens=20,
    )
    chunks = await chat(endpoint_for(server.url), request)
    sent = server.last.json()
    assert sent["tools"] == [{"functionDeclarations": [{"name": "lookup", "parameters": {"type": "object"}}]}]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert sent["generationConfig"] == {"maxOutputTokens": 20}
    assert chunks[1].tool_calls == (
        ToolCallDelta(index=0, id="gemini-call-0", name="lookup", arguments='{"q":"Cheyenne"}'),
    )
    assert chunks[2].finish_reason == "tool_calls"
    assert chunks[3].usage == Usage(prompt_tokens=9, completion_tokens=3, total_tokens=12)


async def test_request_model_overrides_the_connector_model(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_stream(["ok"], model="gemini-2.5-pro")
    request = ChatRequest(messages=[{"role": "user", "content": "x"}], model="gemini-2.5-pro")
    await chat(endpoint_for(server.url), request)
    assert server.last.path == f"{BASE}/gemini-2.5-pro:streamGenerateContent"


async def test_stream_cut_off_halfway_is_interrupted(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_stream_chunks(text_stream(["a", "b", "c", "d"]), abort_after=2)
    err = await raises(endpoint_for(server.url))
    assert isinstance(err, StreamInterruptedError)


async def test_stream_closed_without_finish_reason_is_interrupted(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    fake.serve_stream_chunks(text_stream(["a", "b", "c"])[:2])
    err = await raises(endpoint_for(server.url))
    assert isinstance(err, StreamInterruptedError) and "finishReason" in str(err)


async def test_error_object_mid_stream_is_interrupted(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_stream_chunks([*text_stream(["a", "b", "c"])[:2], MID_STREAM_CANCELLED])
    err = await raises(endpoint_for(server.url))
    assert isinstance(err, StreamInterruptedError) and "The operation was cancelled." in str(err)


async def test_malformed_stream_event_is_an_invalid_response(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_stream_chunks(['data: {"candidates": [\r\n\r\n'])
    assert isinstance(await raises(endpoint_for(server.url)), InvalidResponseError)


async def test_serve_chat_helper_streams_pieces_with_usage(server: FakeServer) -> None:
    serve_chat(server, ["Hi", " there"], prompt_tokens=2, completion_tokens=3)
    chunks = await chat(endpoint_for(server.url))
    assert "".join(c.content or "" for c in chunks) == "Hi there"
    assert chunks[-1].usage == Usage(prompt_tokens=2, completion_tokens=3, total_tokens=5)


# --- Google's error bodies, every task type ------------------------------------------------------

ERRORS = [
    (401, unauthenticated(), AuthenticationError, FailureKind.CREDENTIALS),
    (403, permission_denied(), AuthenticationError, FailureKind.CREDENTIALS),
    (404, model_not_found(CHAT_MODEL), ModelNotFoundError, FailureKind.MODEL_NOT_FOUND),
    (429, resource_exhausted(), RateLimitError, FailureKind.RATE_LIMITED),
    (429, quota_exceeded(), RateLimitError, FailureKind.RATE_LIMITED),
    (500, internal_error(), ProviderServerError, FailureKind.PROVIDER_ERROR),
]


@pytest.mark.parametrize("task", ["chat_completion", "completion", "text_embedding", "rerank"])
@pytest.mark.parametrize(("status", "body", "error", "kind"), ERRORS)
async def test_error_bodies_become_typed_errors_and_test_failures(
    server: FakeServer, fake: FakeVertexAI, task, status, body, error, kind, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.serve_error(status, body)
    endpoint = endpoint_for(server.url, task)
    err = await raises(endpoint, task)
    assert type(err) is error and err.status == status
    assert body["error"]["message"] in str(err)
    if status == 429:
        assert err.retryable and err.retry_after is None  # Vertex sends no Retry-After and no RetryInfo
    if status == 500:
        assert err.retryable
    result = await run_test_routine(endpoint)
    assert not result.ok and result.failure is kind and result.status_code == status
    assert_no_secret(caplog.text)


async def test_a_retry_after_header_from_a_proxy_is_honoured(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_error(429, resource_exhausted(), headers={"retry-after": "7"})
    err = await raises(endpoint_for(server.url, "completion"), "completion")
    assert isinstance(err, RateLimitError) and err.retry_after == 7.0


async def test_unreachable_token_endpoint_and_unreachable_service(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    dead = closed_port_url()
    err = await raises(endpoint_for(dead))
    assert isinstance(err, UnreachableError)
    endpoint = endpoint_for(server.url, url=dead)  # token endpoint alive, Vertex AI not
    err = await raises(endpoint)
    assert isinstance(err, UnreachableError)
    result = await run_test_routine(endpoint)
    assert result.failure is FailureKind.UNREACHABLE


async def test_malformed_json_answer_is_an_invalid_response(server: FakeServer, fake: FakeVertexAI) -> None:
    server.add(
        "POST",
        rf"{BASE}/{CHAT_MODEL}:generateContent",
        FakeResponse(body=b"{oops", content_type="application/json"),
    )
    endpoint = endpoint_for(server.url, "completion")
    assert isinstance(await raises(endpoint, "completion"), InvalidResponseError)
    result = await run_test_routine(endpoint)
    assert result.failure is FailureKind.INVALID_RESPONSE


# --- completion, embeddings, rerank --------------------------------------------------------------


async def test_completion_sends_one_user_turn_and_returns_the_text(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    fake.serve_generate("Elastic is a search company.")
    endpoint = endpoint_for(server.url, "completion")
    async with build_client() as client:
        answer = await plugin.PROVIDER.completion(
            endpoint, CompletionRequest(input="What is Elastic?"), context(client, endpoint)
        )
    assert answer == ["Elastic is a search company."]
    assert server.last.path == f"{BASE}/{CHAT_MODEL}:generateContent"
    assert server.last.json() == {"contents": [{"role": "user", "parts": [{"text": "What is Elastic?"}]}]}


@pytest.mark.parametrize(
    ("input_type", "task_type"), [("ingest", "RETRIEVAL_DOCUMENT"), ("search", "RETRIEVAL_QUERY")]
)
async def test_embeddings_predict_per_input_in_order(
    server: FakeServer, fake: FakeVertexAI, input_type: str, task_type: str
) -> None:
    fake.serve_embeddings([[0.1, 0.2], [0.3, 0.4]])
    endpoint = endpoint_for(server.url, "text_embedding")
    async with build_client() as client:
        vectors = await plugin.PROVIDER.text_embedding(
            endpoint, EmbeddingRequest(input=["a", "b"], input_type=input_type), context(client, endpoint)
        )
    assert vectors == [[0.1, 0.2], [0.3, 0.4]]
    assert server.last.path == f"{BASE}/{EMBEDDING_MODEL}:predict"
    assert server.last.json() == {
        "instances": [{"content": "a", "task_type": task_type}, {"content": "b", "task_type": task_type}]
    }


async def test_embeddings_missing_a_prediction_is_an_invalid_response(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    server.add("POST", rf"{BASE}/{EMBEDDING_MODEL}:predict", FakeResponse.json({"predictions": []}))
    assert isinstance(
        await raises(endpoint_for(server.url, "text_embedding"), "text_embedding"), InvalidResponseError
    )


async def test_rerank_calls_discovery_engine_and_maps_ids_back(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    fake.serve_rerank([0.1, 0.9, 0.5])
    endpoint = endpoint_for(server.url, "rerank")
    async with build_client() as client:
        ctx = context(client, endpoint)
        results = await plugin.PROVIDER.rerank(
            endpoint, RerankRequest(query="who?", input=["luke", "leia", "r2d2"], top_n=2), ctx
        )
        bare = await plugin.PROVIDER.rerank(
            endpoint, RerankRequest(query="who?", input=["luke", "leia"], return_documents=False), ctx
        )
    assert results == [
        RerankResult(index=1, score=0.9, text="leia"),
        RerankResult(index=2, score=0.5, text="r2d2"),
    ]
    assert bare == [RerankResult(index=1, score=0.9), RerankResult(index=0, score=0.1)]
    first, second = (r for r in server.requests if r.path != "/token")
    assert (
        first.path == "/v1/projects/test-project/locations/global/rankingConfigs/default_ranking_config:rank"
    )
    assert first.json() == {
        "model": "semantic-ranker-default@latest",
        "query": "who?",
        "records": [
            {"id": "0", "content": "luke"},
            {"id": "1", "content": "leia"},
            {"id": "2", "content": "r2d2"},
        ],
        "topN": 2,
    }
    assert second.json()["ignoreRecordDetailsInResponse"] is True


async def test_rerank_record_with_an_unknown_id_is_an_invalid_response(
    server: FakeServer, fake: FakeVertexAI
) -> None:
    path = r"/v1/projects/test-project/locations/global/rankingConfigs/default_ranking_config:rank"
    server.add("POST", path, FakeResponse.json({"records": [{"id": "7", "score": 0.3}]}))
    assert isinstance(await raises(endpoint_for(server.url, "rerank"), "rerank"), InvalidResponseError)


# --- Save & test ---------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["chat_completion", "completion"])
async def test_save_and_test_generates_one_token(server: FakeServer, fake: FakeVertexAI, task: str) -> None:
    fake.serve_generate("Hi", finish_reason="MAX_TOKENS")
    result = await run_test_routine(endpoint_for(server.url, task))
    assert result.ok and result.latency_ms is not None
    assert server.last.json() == {
        "contents": [{"role": "user", "parts": [{"text": "Hello world"}]}],
        "generationConfig": {"maxOutputTokens": 1},
    }


async def test_save_and_test_embeds_hello_world(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_embeddings([[1.0]])
    assert (await run_test_routine(endpoint_for(server.url, "text_embedding"))).ok
    assert server.last.json() == {
        "instances": [{"content": "Hello world", "task_type": "RETRIEVAL_DOCUMENT"}]
    }


async def test_save_and_test_ranks_two_records(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_rerank()
    assert (await run_test_routine(endpoint_for(server.url, "rerank"))).ok
    assert len(server.last.json()["records"]) == 2


async def test_save_and_test_reports_an_unknown_model(server: FakeServer, fake: FakeVertexAI) -> None:
    fake.serve_generate("Hi", model=CHAT_MODEL)
    endpoint = endpoint_for(server.url, model_id="gemini-9-ultra")
    server.add(
        "POST",
        rf"{BASE}/gemini-9-ultra:generateContent",
        FakeResponse.json(model_not_found("gemini-9-ultra"), 404),
    )
    result = await run_test_routine(endpoint)
    assert result.failure is FailureKind.MODEL_NOT_FOUND and "gemini-9-ultra" in result.message


async def test_nothing_secret_is_logged_on_success(server: FakeServer, fake: FakeVertexAI, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake.serve_stream(["ok"])
    await chat(endpoint_for(server.url))
    assert "access token" in caplog.text  # the exchange is logged...
    assert_no_secret(caplog.text)  # ...without the token, the key or its id


# --- the contract kit ----------------------------------------------------------------------------


class TestContract(ProviderContract):
    provider_id = "googlevertexai"
    fake = googlevertexai_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        # Google refuses the key's JWT grant; were a call made anyway, Vertex would answer 401.
        FakeVertexAI(server).reject_tokens("Invalid JWT Signature.")
        server.add("*", r"/v1/.*", FakeResponse.json(unauthenticated(), 401))
