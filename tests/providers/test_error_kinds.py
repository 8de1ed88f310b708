"""The error-kind table: for every provider listed, on every task type it has, each kind of failure
its vendor answers with becomes the same typed error (credentials, model not found, rate limit with
its retry hint, spent quota, server error, and an error in the middle of a stream).

Each row is the vendor's own answer, from the provider's reusable fake (`ai_connector_<id>.testing`).
A kind a vendor has no answer of its own for is an explicit entry in NOT_APPLICABLE, with the reason.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from service_helpers import (
    KIBANA_INPUTS,
    OPENAI_FAMILY,
    assert_no_secret,
    call_context,
    call_task,
)

from ai_connector.manager import default_registry
from ai_connector.plugin import (
    AuthenticationError,
    CompletionRequest,
    InferenceEndpoint,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    StreamInterruptedError,
    TaskType,
)
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind, Secrets
from ai_connector_alibabacloud_ai_search import testing as ais_fake
from ai_connector_amazon_sagemaker import testing as sm_fake
from ai_connector_amazonbedrock import testing as bedrock_fake
from ai_connector_anthropic import testing as anthropic_fake
from ai_connector_azureaistudio import testing as studio_fake
from ai_connector_azureopenai import testing as azure_fake
from ai_connector_cohere import testing as cohere_fake
from ai_connector_contextualai import testing as contextual_fake
from ai_connector_elastic import testing as eis_fake
from ai_connector_elasticsearch import testing as es_fake
from ai_connector_gemini import testing as gemini_fake
from ai_connector_googleaistudio import testing as aistudio_fake
from ai_connector_googlevertexai import testing as vertex_fake
from ai_connector_jinaai import testing as jina_fake
from ai_connector_openai import testing as openai_fake
from ai_connector_voyageai import testing as voyage_fake
from ai_connector_watsonxai import testing as wx_fake

CANARY = "canary-error-kinds-5d83a1"
RETRY_AFTER = 7

# kind -> (error class, failure kind, retryable, retry_after)
EXPECTED: dict[str, tuple[type[ProviderError], FailureKind, bool, float | None]] = {
    "credentials": (AuthenticationError, FailureKind.CREDENTIALS, False, None),
    "model_not_found": (ModelNotFoundError, FailureKind.MODEL_NOT_FOUND, False, None),
    "rate_limit": (RateLimitError, FailureKind.RATE_LIMITED, True, float(RETRY_AFTER)),
    "quota": (RateLimitError, FailureKind.RATE_LIMITED, False, None),
    "server_error": (ProviderServerError, FailureKind.PROVIDER_ERROR, True, None),
}


def fake_module(provider_id: str) -> Any:
    """The provider's fake module, `ai_connector_<id>.testing` (a dash in the id is an underscore in
    the package name: `alibabacloud-ai-search`)."""
    return importlib.import_module(f"ai_connector_{provider_id.replace('-', '_')}.testing")


# provider -> kind -> the vendor's answer (the kinds it lacks are in NOT_APPLICABLE).
ANSWERS: dict[str, dict[str, Callable[[], FakeResponse]]] = {
    "cohere": {
        "credentials": lambda: cohere_fake.error_response(401),
        "model_not_found": lambda: cohere_fake.error_response(
            404,
            "model 'x' not found, make sure the correct model ID was used and that you have access "
            "to the model.",
        ),
        "rate_limit": lambda: cohere_fake.error_response(429, retry_after=RETRY_AFTER),
        "quota": lambda: cohere_fake.error_response(402),
        "server_error": lambda: cohere_fake.error_response(500),
    },
    "jinaai": {
        "credentials": lambda: jina_fake.error_response(401),
        "model_not_found": lambda: jina_fake.validation_error(
            "model", "Input should be 'jina-embeddings-v3'", "x"
        ),
        "rate_limit": lambda: jina_fake.error_response(429, retry_after=RETRY_AFTER),
        "quota": lambda: jina_fake.error_response(402),
        "server_error": lambda: jina_fake.error_response(503),
    },
    "voyageai": {
        "credentials": lambda: voyage_fake.error_response(401),
        "model_not_found": lambda: voyage_fake.error_response(
            400, "Model x is not supported. Supported models are []."
        ),
        "rate_limit": lambda: voyage_fake.error_response(429, retry_after=RETRY_AFTER),
        "server_error": lambda: voyage_fake.error_response(500),
    },
    "contextualai": {
        "credentials": lambda: contextual_fake.error_response(401),
        "model_not_found": lambda: contextual_fake.error_response(400, "Invalid model: x"),
        "rate_limit": lambda: contextual_fake.error_response(429, retry_after=RETRY_AFTER),
        "server_error": lambda: contextual_fake.error_response(500, empty=True),
    },
}


def hinted(answer: FakeResponse, seconds: int = RETRY_AFTER) -> FakeResponse:
    """`answer` with a `Retry-After: seconds` header (the vendors' 429s carry one)."""
    items = answer.headers.items() if isinstance(answer.headers, dict) else answer.headers
    answer.headers = [*items, ("Retry-After", str(seconds))]
    return answer


# The services whose error bodies came from their own test files (test_<id>.py, whose kinds beyond
# this table's, e.g. Alibaba's InvalidParameter and SageMaker's model error, stay there).
ANSWERS.update(
    {
        "elasticsearch": {
            "credentials": lambda: es_fake.security_exception("/_inference"),
            "model_not_found": lambda: es_fake.not_found("x"),
            "rate_limit": lambda: hinted(es_fake.queue_full()),
            # a PERMANENT circuit breaker: the nearest a cluster has to a spent quota
            "quota": es_fake.circuit_breaking,
            "server_error": lambda: es_fake.es_error(
                500, "status_exception", "Error in inference process: [boom]"
            ),
        },
        "watsonxai": {
            "credentials": lambda: wx_fake.watsonx_error(
                401,
                "authentication_token_expired",
                "Failed to authenticate the request due to an expired token",
            ),
            "model_not_found": lambda: wx_fake.watsonx_error(
                404, "model_not_supported", "Model 'x' is not supported"
            ),
            "rate_limit": lambda: hinted(
                wx_fake.watsonx_error(429, "too_many_requests", "Too many requests, please retry later")
            ),
            "quota": lambda: wx_fake.watsonx_error(
                403, "token_quota_reached", "You have reached your token quota for this period"
            ),
            "server_error": lambda: wx_fake.watsonx_error(500, "internal_error", "Internal server error"),
        },
        "alibabacloud-ai-search": {
            "credentials": lambda: ais_fake.search_error(401, "InvalidApiKey", "Invalid api key"),
            "model_not_found": lambda: ais_fake.search_error(
                400, "ServiceIdNotExist", "service_id is not exist."
            ),
            "rate_limit": lambda: hinted(
                ais_fake.search_error(
                    429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later."
                )
            ),
            "quota": lambda: ais_fake.search_error(
                429, "Throttling.AllocationQuota", "Free allocated quota exceeded."
            ),
            "server_error": lambda: ais_fake.search_error(
                500, "InternalServerError", "An internal error has occured, please try again later."
            ),
        },
        "azureaistudio": {
            "credentials": lambda: studio_fake.azure_error(401, "401", studio_fake.ACCESS_DENIED),
            "model_not_found": lambda: studio_fake.azure_error(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist."
            ),
            "rate_limit": lambda: studio_fake.rate_limited(RETRY_AFTER),
            "quota": studio_fake.quota_exceeded,
            "server_error": lambda: studio_fake.azure_error(
                500, "InternalServerError", "The server had an error while processing your request."
            ),
        },
        # quota: not applicable (NOT_APPLICABLE)
        "amazon_sagemaker": {
            "credentials": lambda: sm_fake.aws_error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            ),
            "model_not_found": lambda: sm_fake.aws_error(
                400, "ValidationError", "Endpoint gone of account 123456789012 not found."
            ),
            "rate_limit": lambda: hinted(sm_fake.aws_error(429, "ThrottlingException", "Rate exceeded")),
            "server_error": lambda: sm_fake.aws_error(500, "InternalFailure", "An internal error occurred."),
        },
    }
)


# The original seven, with the error bodies of their own test files (test_<id>.py).
ANSWERS.update(
    {
        "openai": {
            "credentials": lambda: openai_fake.invalid_api_key_response("sk-wrong-key-1234567890"),
            "model_not_found": lambda: openai_fake.model_not_found_response("gpt-9"),
            "rate_limit": lambda: openai_fake.rate_limit_response(retry_after=str(RETRY_AFTER)),
            "quota": openai_fake.insufficient_quota_response,
            "server_error": openai_fake.server_error_response,
        },
        "azureopenai": {
            "credentials": azure_fake.invalid_key_response,
            "model_not_found": azure_fake.deployment_not_found_response,
            "rate_limit": lambda: azure_fake.rate_limit_response(retry_after=str(RETRY_AFTER)),
            # Azure passes OpenAI's insufficient_quota body through (test_azureopenai.py)
            "quota": lambda: FakeResponse.json(openai_fake.insufficient_quota_response().body, 429),
            "server_error": azure_fake.server_error_response,
        },
        "amazonbedrock": {
            "credentials": bedrock_fake.unrecognized_client,
            "model_not_found": bedrock_fake.model_not_found,
            # Bedrock itself sends no retry header; a proxy's Retry-After is honoured
            "rate_limit": lambda: hinted(bedrock_fake.throttled()),
            "quota": bedrock_fake.service_quota_exceeded,
            "server_error": bedrock_fake.internal_server_error,
        },
        # quota: not applicable (NOT_APPLICABLE)
        "googlevertexai": {
            "credentials": lambda: FakeResponse.json(vertex_fake.unauthenticated(), 401),
            "model_not_found": lambda: FakeResponse.json(
                vertex_fake.model_not_found(vertex_fake.CHAT_MODEL), 404
            ),
            # Vertex sends no Retry-After and no RetryInfo; a proxy's Retry-After is honoured
            "rate_limit": lambda: hinted(FakeResponse.json(vertex_fake.quota_exceeded(), 429)),
            "server_error": lambda: FakeResponse.json(vertex_fake.internal_error(), 500),
        },
        "googleaistudio": {
            "credentials": lambda: FakeResponse.json(aistudio_fake.api_key_invalid(), 400),
            "model_not_found": lambda: FakeResponse.json(
                aistudio_fake.model_not_found(aistudio_fake.MODEL), 404
            ),
            "rate_limit": lambda: FakeResponse.json(
                aistudio_fake.quota_exceeded(retry_delay=f"{RETRY_AFTER}s"), 429
            ),
            # a spent daily quota (still with Google's RetryInfo, see QUOTA_HINTS)
            "quota": lambda: FakeResponse.json(
                aistudio_fake.quota_exceeded(retry_delay="25s", per="Day"), 429
            ),
            "server_error": lambda: FakeResponse.json(aistudio_fake.internal_error(), 500),
        },
        "elastic": {
            "credentials": lambda: eis_fake.security_exception("/_inference"),
            "model_not_found": lambda: eis_fake.not_found("x"),
            "rate_limit": lambda: hinted(
                eis_fake.es_error_response(
                    429, "es_rejected_execution_exception", "rejected execution of coordinating operation"
                )
            ),
            # EIS wraps its upstream's spent quota in a 400 status_exception (test_elastic.py)
            "quota": lambda: eis_fake.es_error_response(
                400,
                "status_exception",
                "Received a rate limit status code for request from inference entity id [x] status [429]. "
                "Error message: [You exceeded your current quota]",
            ),
            "server_error": lambda: eis_fake.es_error_response(
                500, "status_exception", "Received an unsuccessful status code [500]"
            ),
        },
        "anthropic": {
            "credentials": lambda: anthropic_fake.error_response(401),
            "model_not_found": lambda: anthropic_fake.error_response(404, "model: claude-x"),
            "rate_limit": lambda: anthropic_fake.error_response(429, retry_after=RETRY_AFTER),
            "quota": lambda: anthropic_fake.error_response(402),  # billing: credit balance spent
            "server_error": lambda: anthropic_fake.error_response(500),
        },
    }
)

# A spent quota whose answer still carries a retry delay: Google's RetryInfo on a daily quota.
QUOTA_HINTS: dict[str, float] = {"googleaistudio": 25.0}


def _watsonx_host(server: FakeServer) -> dict[str, Any]:
    """watsonx trades its key at IAM first: the fake's IAM answers, aimed at by the `iam_url` host
    setting, so no call leaves the machine and the failure is the API call's."""
    return {"iam_url": wx_fake.FakeWatsonx(server, api_key=CANARY).iam_url}


def _vertex_host(server: FakeServer) -> dict[str, Any]:
    """Vertex trades its service-account JWT at the key file's token_uri (the fake's /token) first:
    the fake's token endpoint answers, so the failure is the API call's."""
    vertex_fake.FakeVertexAI(server)
    return {}


# provider -> (the path its failing answer is served on, what the call needs served before it and
# the host settings that aim it there); others: every POST, no host settings.
HOSTS: dict[str, tuple[str, Callable[[FakeServer], dict[str, Any]]]] = {
    "watsonxai": ("/ml/v1/.*", _watsonx_host),
    "googlevertexai": ("/v1/.*", _vertex_host),
}

# The OpenAI-compatible family: each fake's ERRORS table holds its vendor's answer for each kind the
# vendor documents (none has a quota answer of its own but DeepSeek, NVIDIA and Hugging Face: 402).


def _family_answer(testing: Any, kind: str) -> Callable[[], FakeResponse]:
    retry = RETRY_AFTER if kind == "rate_limit" else None
    return lambda: testing.error_answer(testing.ERRORS, kind, retry_after=retry)


for _id in OPENAI_FAMILY:
    _testing = fake_module(_id)
    ANSWERS[_id] = {kind: _family_answer(_testing, kind) for kind in _testing.ERRORS}

# The kinds a vendor has no answer of its own for: explicit, with the reason, so a gap is never silent
# (test_every_listed_provider_answers_or_waives_every_kind holds each provider to a row or a reason).
NOT_APPLICABLE: dict[str, dict[str, str]] = {
    "voyageai": {"quota": "no quota answer documented: a spent allowance is its 429 rate limit"},
    "contextualai": {"quota": "no quota answer documented: a spent allowance is its 429 rate limit"},
    "amazon_sagemaker": {"quota": "SageMaker runtime has no quota error: account limits throttle (429)"},
    "googlevertexai": {"quota": "Vertex's quota answers are per-minute and retryable: the rate-limit row"},
    **{
        _id: {"quota": "the vendor documents no quota answer of its own (its fake's ERRORS has none)"}
        for _id in OPENAI_FAMILY
        if "quota" not in fake_module(_id).ERRORS
    },
}

ROWS = [
    pytest.param(provider_id, task, kind, id=f"{provider_id}-{task.value}-{kind}")
    for provider_id, kinds in ANSWERS.items()
    for task in sorted(default_registry().get(provider_id).task_types)
    for kind in kinds
]


def endpoint_for(provider_id: str, url: str, task: TaskType) -> InferenceEndpoint:
    """A connector of `task` aimed at the fake at `url`, with the fake's own secrets (`CANARY` the key)."""
    config, secrets = fake_module(provider_id).connector(url, task.value, secret=CANARY)
    return InferenceEndpoint(
        inference_id=f"test-{task.value}",
        task_type=task,
        settings=dict(config),
        secrets=Secrets(dict(secrets)),
    )


@pytest.mark.parametrize(("provider_id", "task", "kind"), ROWS)
async def test_each_error_kind_is_typed_alike(
    server: FakeServer, caplog: pytest.LogCaptureFixture, provider_id: str, task: TaskType, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    path, host = HOSTS.get(provider_id, ("/.*", lambda _server: {}))
    host_settings = host(server)
    server.add("POST", path, ANSWERS[provider_id][kind]())
    provider = default_registry().get(provider_id)
    endpoint = endpoint_for(provider_id, server.url, task)
    with pytest.raises(ProviderError) as info:
        await call_task(provider, endpoint, host_settings=host_settings)
    cls, failure, retryable, retry_after = EXPECTED[kind]
    if kind == "quota":
        retry_after = QUOTA_HINTS.get(provider_id, retry_after)
    err = info.value
    assert type(err) is cls and err.kind is failure
    assert (err.retryable, err.retry_after, err.provider) == (retryable, retry_after, provider_id)
    assert err.provider_message and err.provider_message in str(err)
    assert_no_secret(CANARY, err, repr(err), caplog.text)


def test_every_listed_provider_answers_or_waives_every_kind() -> None:
    for provider_id, kinds in ANSWERS.items():
        waived = NOT_APPLICABLE.get(provider_id, {})
        assert set(kinds) | set(waived) == set(EXPECTED), provider_id
        assert not set(kinds) & set(waived), provider_id


# Mid-stream errors: the providers whose calls stream and the vendor's in-stream failure (Cohere
# streams its completion task; the OpenAI-compatible family its chat: OpenAI's `data: {"error"}`
# event, or the vendor's own where its fake has one).
MID_STREAM: dict[str, tuple[Callable[..., Any], TaskType, Callable[[], FakeResponse]]] = {
    "cohere": (
        lambda ep, ctx: (
            default_registry()
            .get("cohere")
            .completion_stream(ep, CompletionRequest(input="Hello world"), ctx)
        ),
        TaskType.COMPLETION,
        lambda: cohere_fake.stream_response(
            cohere_fake.stream_events(["Hel"], finish_reason="ERROR", error="internal error")
        ),
    ),
}


for _id in OPENAI_FAMILY:
    if TaskType.CHAT_COMPLETION in default_registry().get(_id).task_types:
        _own = getattr(fake_module(_id), "midstream_error_response", None)
        MID_STREAM[_id] = (
            lambda ep, ctx, p=_id: (
                default_registry()
                .get(p)
                .chat_completion_stream(ep, KIBANA_INPUTS[TaskType.CHAT_COMPLETION], ctx)
            ),
            TaskType.CHAT_COMPLETION,
            _own or (lambda: openai_fake.midstream_error_response(("Hel",))),
        )


def _chat(provider_id: str) -> Callable[..., Any]:
    """Open `provider_id`'s chat stream with Kibana's input."""
    return lambda ep, ctx: (
        default_registry()
        .get(provider_id)
        .chat_completion_stream(ep, KIBANA_INPUTS[TaskType.CHAT_COMPLETION], ctx)
    )


# The other vendors' in-stream failures, from their own test files (test_<id>.py): each stream has
# sent "Hel" when the vendor's error arrives.
MID_STREAM.update(
    {
        "openai": (
            _chat("openai"),
            TaskType.CHAT_COMPLETION,
            lambda: openai_fake.midstream_error_response(("Hel",)),
        ),
        "azureopenai": (
            _chat("azureopenai"),
            TaskType.CHAT_COMPLETION,
            lambda: openai_fake.stream_response(
                [
                    *azure_fake.chat_stream_events(["Hel"])[:3],
                    *openai_fake.sse([azure_fake.error_body("500", "Internal error")]),
                ]
            ),
        ),
        "amazonbedrock": (
            _chat("amazonbedrock"),
            TaskType.CHAT_COMPLETION,
            lambda: bedrock_fake.stream_response(
                [
                    *bedrock_fake.converse_stream_messages(["Hel", "lo"])[:2],
                    bedrock_fake.exception_message(
                        "modelStreamErrorException", "The model stream encountered an error."
                    ),
                ]
            ),
        ),
        "elastic": (
            _chat("elastic"),
            TaskType.CHAT_COMPLETION,
            lambda: eis_fake.stream_response(
                [
                    *eis_fake.chat_chunks(["Hel"])[:1],
                    json.dumps({"error": {"type": "status_exception", "reason": "upstream went away"}}),
                ],
                done=False,
            ),
        ),
        "anthropic": (
            _chat("anthropic"),
            TaskType.CHAT_COMPLETION,
            lambda: anthropic_fake.stream_response(
                [
                    *anthropic_fake.stream_events(["Hel", "lo"])[:4],
                    {"type": "error", "error": {"type": "api_error", "message": "boom"}},
                ]
            ),
        ),
        # the container's OpenAI-style events (role, "Hel") in PayloadParts, then an exception frame
        "amazon_sagemaker": (
            _chat("amazon_sagemaker"),
            TaskType.CHAT_COMPLETION,
            lambda: sm_fake.payload_stream(
                "".join(e + "\n\n" for e in sm_fake.openai_sse(["Hel", "lo"]).split("\n\n")[:2]),
                extra=[sm_fake.stream_error_frame("model container crashed")],
            ),
        ),
        # Google gives up on a started stream with a bare CANCELLED status object
        "googlevertexai": (
            _chat("googlevertexai"),
            TaskType.CHAT_COMPLETION,
            lambda: FakeResponse(
                chunks=[*gemini_fake.text_stream(["Hel", "lo", "!"])[:1], gemini_fake.MID_STREAM_CANCELLED],
                content_type="text/event-stream",
            ),
        ),
        "watsonxai": (
            _chat("watsonxai"),
            TaskType.CHAT_COMPLETION,
            lambda: FakeResponse(
                chunks=[
                    *list(wx_fake.chat_stream(["Hel"]).chunks or ())[:2],
                    "id: 3\nevent: error\ndata: "
                    + json.dumps(
                        {
                            "errors": [{"code": "downstream_error", "message": "the model stopped"}],
                            "status_code": 500,
                        }
                    )
                    + "\n\n",
                ],
                content_type="text/event-stream",
            ),
        ),
    }
)


def test_every_listed_provider_that_streams_has_a_mid_stream_row() -> None:
    """Not applicable to a provider none of whose calls streams (a mid-stream error needs a stream)."""
    for provider_id in ANSWERS:
        provider = default_registry().get(provider_id)
        streams = (
            provider.chat_completion_stream is not None
            or getattr(provider, "completion_stream", None) is not None
        )
        assert (provider_id in MID_STREAM) is streams, provider_id


@pytest.mark.parametrize("provider_id", sorted(MID_STREAM))
async def test_an_error_in_the_middle_of_a_stream_is_typed(server: FakeServer, provider_id: str) -> None:
    open_stream, task, answer = MID_STREAM[provider_id]
    path, host = HOSTS.get(provider_id, ("/.*", lambda _server: {}))
    host_settings = host(server)
    server.add("POST", path, answer())
    endpoint = endpoint_for(provider_id, server.url, task)
    texts: list[str] = []
    with pytest.raises(StreamInterruptedError) as info:
        async with call_context(provider_id, CANARY, host_settings=host_settings) as ctx:
            async for chunk in open_stream(endpoint, ctx):
                texts.append(chunk.content or "")
    assert "".join(texts) == "Hel"
    assert info.value.provider == provider_id and not info.value.retryable and info.value.provider_message
