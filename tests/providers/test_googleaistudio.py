"""Google AI Studio (Gemini Developer API) against its wire-exact fake: completion, embeddings, the
API key only in `x-goog-api-key`, Google's error bodies and *Save & test*."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import jsonschema
import pytest

import ai_connector_googleaistudio as plugin
from ai_connector.errors import UnreachableError
from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets, thaw
from ai_connector_googleaistudio import calls
from ai_connector_googleaistudio.testing import (
    EMBEDDING_MODEL,
    MODEL,
    FakeAIStudio,
    api_key_invalid,
    connector,
    internal_error,
    model_not_found,
    quota_exceeded,
    service_disabled,
    unregistered_caller,
)

CANARY = "canary-secret-0000"


@pytest.fixture
def fake(server: FakeServer) -> FakeAIStudio:
    return FakeAIStudio(server, api_key=CANARY)


def endpoint_for(
    base_url: str, task: str = "completion", *, key: str = CANARY, **settings: object
) -> InferenceEndpoint:
    config, _ = connector(base_url, task, secret=key)
    config.update(settings)
    return InferenceEndpoint(
        inference_id="aistudio-test",
        task_type=TaskType(task),
        settings=config,
        secrets=Secrets({"api_key": key}),
        headers={"x-custom": "kept"},
    )


def context(client) -> CallContext:
    return CallContext(client=client, provider_id="googleaistudio", redactor=Redactor([CANARY]))


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        assert CANARY not in str(text)


async def raises(endpoint: InferenceEndpoint) -> ProviderError:
    """The error the connector's call raises (checked for the key on the way)."""
    async with build_client() as client:
        with pytest.raises(ProviderError) as info:
            if endpoint.task_type is TaskType.TEXT_EMBEDDING:
                await plugin.PROVIDER.text_embedding(
                    endpoint, EmbeddingRequest(input=["Hi"]), context(client)
                )
            else:
                await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="Hi"), context(client))
    err = info.value
    assert_no_secret(str(err), repr(err), err.provider_message)
    return err


async def run_test_routine(endpoint: InferenceEndpoint):
    async with build_client() as client:
        result = await plugin.PROVIDER.test(endpoint, context(client))
    assert_no_secret(result.message, result.to_dict())
    return result


def test_provider_declares_es_fields_and_only_completion_and_embeddings() -> None:
    (provider,) = list(plugin.ai_connector_providers())
    assert (provider.id, provider.name) == ("googleaistudio", "Google AI Studio")
    assert provider.task_types == {TaskType.COMPLETION, TaskType.TEXT_EMBEDDING}
    assert provider.chat_completion_stream is None
    meta = json.loads((Path(__file__).parents[2] / "schemas" / "provider-schema.meta.json").read_text())
    for schema in (provider.settings_schema, provider.auth_schema):
        jsonschema.validate(thaw(schema), meta)
    key = provider.auth_schema["properties"]["api_key"]
    assert (key["title"], key["x-sensitive"], key["x-updatable"]) == ("API Key", True, True)
    assert provider.settings_schema["required"] == ("model_id",)
    assert provider.default_requests_per_minute == {TaskType.COMPLETION: 360, TaskType.TEXT_EMBEDDING: 360}


def test_urls() -> None:
    endpoint = InferenceEndpoint(
        "i", TaskType.TEXT_EMBEDDING, {"model_id": "models/text-embedding-004"}, Secrets()
    )
    assert calls.urls(endpoint, {}) == [
        "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents"
    ]


async def test_completion_sends_the_key_only_in_the_header(server: FakeServer, fake: FakeAIStudio) -> None:
    fake.serve_generate("Elastic is a search company.")
    async with build_client() as client:
        answer = await plugin.PROVIDER.completion(
            endpoint_for(server.url), CompletionRequest(input="What is Elastic?"), context(client)
        )
    assert answer == ["Elastic is a search company."]
    sent = server.last
    assert sent.path == f"/v1beta/models/{MODEL}:generateContent" and sent.query_string == ""
    assert sent.headers["x-goog-api-key"] == CANARY and "authorization" not in sent.headers
    assert sent.headers["x-custom"] == "kept"
    assert sent.json() == {"contents": [{"role": "user", "parts": [{"text": "What is Elastic?"}]}]}


@pytest.mark.parametrize(
    ("input_type", "task_type"), [("ingest", "RETRIEVAL_DOCUMENT"), ("search", "RETRIEVAL_QUERY")]
)
async def test_embeddings_batch_every_input_in_order(
    server: FakeServer, fake: FakeAIStudio, input_type: str, task_type: str
) -> None:
    fake.serve_embeddings([[0.5, -0.5], [0.25, 0.75]])
    endpoint = endpoint_for(server.url, "text_embedding")
    async with build_client() as client:
        vectors = await plugin.PROVIDER.text_embedding(
            endpoint, EmbeddingRequest(input=["a", "b"], input_type=input_type), context(client)
        )
    assert vectors == [[0.5, -0.5], [0.25, 0.75]]
    assert server.last.path == f"/v1beta/models/{EMBEDDING_MODEL}:batchEmbedContents"
    assert server.last.json() == {
        "requests": [
            {
                "model": f"models/{EMBEDDING_MODEL}",
                "content": {"parts": [{"text": "a"}]},
                "taskType": task_type,
            },
            {
                "model": f"models/{EMBEDDING_MODEL}",
                "content": {"parts": [{"text": "b"}]},
                "taskType": task_type,
            },
        ]
    }


async def test_a_models_prefix_in_the_model_id_is_accepted(server: FakeServer, fake: FakeAIStudio) -> None:
    fake.serve_embeddings([[1.0]])
    endpoint = endpoint_for(server.url, "text_embedding", model_id=f"models/{EMBEDDING_MODEL}")
    async with build_client() as client:
        assert await plugin.PROVIDER.text_embedding(
            endpoint, EmbeddingRequest(input=["a"]), context(client)
        ) == [[1.0]]


async def test_bad_key_is_400_api_key_invalid_and_a_credentials_failure(
    server: FakeServer, fake: FakeAIStudio
) -> None:
    fake.serve_generate("never")
    endpoint = endpoint_for(server.url, key="canary-secret-0000-wrong")
    async with build_client() as client:
        with pytest.raises(AuthenticationError) as info:
            await plugin.PROVIDER.completion(endpoint, CompletionRequest(input="x"), context(client))
    assert info.value.status == 400 and info.value.code == "API_KEY_INVALID"
    assert "API key not valid. Please pass a valid API key." in str(info.value)
    result = await run_test_routine(endpoint)
    assert result.failure is FailureKind.CREDENTIALS and result.status_code == 400


ERRORS = [
    (400, api_key_invalid(), AuthenticationError, FailureKind.CREDENTIALS),
    (403, unregistered_caller(), AuthenticationError, FailureKind.CREDENTIALS),
    (403, service_disabled(), AuthenticationError, FailureKind.CREDENTIALS),
    (404, model_not_found(MODEL), ModelNotFoundError, FailureKind.MODEL_NOT_FOUND),
    (429, quota_exceeded(), RateLimitError, FailureKind.RATE_LIMITED),
    (500, internal_error(), ProviderServerError, FailureKind.PROVIDER_ERROR),
]


@pytest.mark.parametrize("task", ["completion", "text_embedding"])
@pytest.mark.parametrize(("status", "body", "error", "kind"), ERRORS)
async def test_error_bodies_become_typed_errors_and_test_failures(
    server: FakeServer, fake: FakeAIStudio, task, status, body, error, kind, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.serve_error(status, body)
    endpoint = endpoint_for(server.url, task)
    err = await raises(endpoint)
    assert type(err) is error and err.status == status
    assert body["error"]["message"] in str(err)
    result = await run_test_routine(endpoint)
    assert not result.ok and result.failure is kind and result.status_code == status
    assert_no_secret(caplog.text)


async def test_per_minute_quota_is_retryable_after_the_retry_delay(
    server: FakeServer, fake: FakeAIStudio
) -> None:
    fake.serve_error(429, quota_exceeded(retry_delay="59s"))
    err = await raises(endpoint_for(server.url))
    assert isinstance(err, RateLimitError) and err.retryable and err.retry_after == 59.0


async def test_spent_daily_quota_is_not_retryable(server: FakeServer, fake: FakeAIStudio) -> None:
    fake.serve_error(429, quota_exceeded(retry_delay="25.465784708s", per="Day"))
    err = await raises(endpoint_for(server.url))
    assert isinstance(err, RateLimitError) and not err.retryable
    assert err.retry_after == pytest.approx(25.465784708)


async def test_malformed_json_answer_is_an_invalid_response(server: FakeServer, fake: FakeAIStudio) -> None:
    server.add(
        "POST",
        rf"/v1beta/models/{MODEL}:generateContent",
        FakeResponse(body=b"<html>", content_type="text/html"),
    )
    endpoint = endpoint_for(server.url)
    assert isinstance(await raises(endpoint), InvalidResponseError)
    assert (await run_test_routine(endpoint)).failure is FailureKind.INVALID_RESPONSE


async def test_embeddings_of_the_wrong_shape_are_an_invalid_response(
    server: FakeServer, fake: FakeAIStudio
) -> None:
    path = rf"/v1beta/models/{EMBEDDING_MODEL}:batchEmbedContents"
    server.add("POST", path, FakeResponse.json({"embeddings": [{"values": "nope"}]}))
    assert isinstance(await raises(endpoint_for(server.url, "text_embedding")), InvalidResponseError)


async def test_unreachable_host() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    endpoint = endpoint_for(f"http://127.0.0.1:{port}")
    assert isinstance(await raises(endpoint), UnreachableError)
    assert (await run_test_routine(endpoint)).failure is FailureKind.UNREACHABLE


async def test_save_and_test_generates_one_token_with_the_model(
    server: FakeServer, fake: FakeAIStudio
) -> None:
    fake.serve_generate("Hi", finish_reason="MAX_TOKENS")
    result = await run_test_routine(endpoint_for(server.url))
    assert result.ok
    assert server.last.path == f"/v1beta/models/{MODEL}:generateContent"
    assert server.last.json() == {
        "contents": [{"role": "user", "parts": [{"text": "Hello world"}]}],
        "generationConfig": {"maxOutputTokens": 1},
    }


async def test_save_and_test_embeds_hello_world(server: FakeServer, fake: FakeAIStudio) -> None:
    fake.serve_embeddings([[1.0, 2.0]])
    assert (await run_test_routine(endpoint_for(server.url, "text_embedding"))).ok
    assert server.last.json()["requests"][0]["content"] == {"parts": [{"text": "Hello world"}]}


async def test_save_and_test_reports_an_unknown_model(server: FakeServer, fake: FakeAIStudio) -> None:
    server.add(
        "POST",
        r"/v1beta/models/gemini-9-ultra:generateContent",
        FakeResponse.json(model_not_found("gemini-9-ultra"), 404),
    )
    result = await run_test_routine(endpoint_for(server.url, model_id="gemini-9-ultra"))
    assert result.failure is FailureKind.MODEL_NOT_FOUND and "gemini-9-ultra" in result.message


async def test_a_missing_key_is_a_credentials_failure_before_any_request(
    server: FakeServer, fake: FakeAIStudio
) -> None:
    endpoint = InferenceEndpoint("i", TaskType.COMPLETION, {"model_id": MODEL, "url": server.url}, Secrets())
    result = await run_test_routine(endpoint)
    assert result.failure is FailureKind.CREDENTIALS and server.requests == []


# --- the contract kit ----------------------------------------------------------------------------


class TestContract(ProviderContract):
    provider_id = "googleaistudio"

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        # A wrong key: HTTP 400 INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID.
        server.add("*", r"/.*", FakeResponse.json(api_key_invalid(), 400))
