"""The error-kind table: for every provider listed, on every task type it has, each kind of failure
its vendor answers with becomes the same typed error (credentials, model not found, rate limit with
its retry hint, spent quota, server error, and an error in the middle of a stream).

Each row is the vendor's own answer, from the provider's reusable fake (`ai_connector_<id>.testing`).
A provider whose vendor documents no separate answer for a kind has no row for it (noted below).
"""

from __future__ import annotations

import importlib
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
    make_endpoint,
)

from ai_connector.manager import default_registry
from ai_connector.plugin import (
    AuthenticationError,
    CompletionRequest,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    StreamInterruptedError,
    TaskType,
)
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind
from ai_connector_cohere import testing as cohere_fake
from ai_connector_contextualai import testing as contextual_fake
from ai_connector_jinaai import testing as jina_fake
from ai_connector_openai import testing as openai_fake
from ai_connector_voyageai import testing as voyage_fake

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

# provider -> kind -> the vendor's answer. Voyage AI and Contextual AI document no quota answer of
# their own (a spent allowance shows as their rate limit), so they have no quota row.
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

# The OpenAI-compatible family: each fake's ERRORS table holds its vendor's answer for each kind the
# vendor documents (none has a quota answer of its own but DeepSeek, NVIDIA and Hugging Face: 402).


def _family_answer(testing: Any, kind: str) -> Callable[[], FakeResponse]:
    retry = RETRY_AFTER if kind == "rate_limit" else None
    return lambda: testing.error_answer(testing.ERRORS, kind, retry_after=retry)


for _id in OPENAI_FAMILY:
    _testing = importlib.import_module(f"ai_connector_{_id}.testing")
    ANSWERS[_id] = {kind: _family_answer(_testing, kind) for kind in _testing.ERRORS}

ROWS = [
    pytest.param(provider_id, task, kind, id=f"{provider_id}-{task.value}-{kind}")
    for provider_id, kinds in ANSWERS.items()
    for task in sorted(default_registry().get(provider_id).task_types)
    for kind in kinds
]


def settings_for(provider_id: str, url: str, task: TaskType) -> dict[str, Any]:
    testing = importlib.import_module(f"ai_connector_{provider_id}.testing")
    config, _ = testing.connector(url, task.value, secret=CANARY)
    return config


@pytest.mark.parametrize(("provider_id", "task", "kind"), ROWS)
async def test_each_error_kind_is_typed_alike(
    server: FakeServer, caplog: pytest.LogCaptureFixture, provider_id: str, task: TaskType, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    server.add("POST", "/.*", ANSWERS[provider_id][kind]())
    provider = default_registry().get(provider_id)
    endpoint = make_endpoint(task, settings_for(provider_id, server.url, task), secret=CANARY)
    with pytest.raises(ProviderError) as info:
        await call_task(provider, endpoint)
    cls, failure, retryable, retry_after = EXPECTED[kind]
    err = info.value
    assert type(err) is cls and err.kind is failure
    assert (err.retryable, err.retry_after, err.provider) == (retryable, retry_after, provider_id)
    assert err.provider_message and err.provider_message in str(err)
    assert_no_secret(CANARY, err, repr(err), caplog.text)


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
        _own = getattr(
            importlib.import_module(f"ai_connector_{_id}.testing"), "midstream_error_response", None
        )
        MID_STREAM[_id] = (
            lambda ep, ctx, p=_id: (
                default_registry()
                .get(p)
                .chat_completion_stream(ep, KIBANA_INPUTS[TaskType.CHAT_COMPLETION], ctx)
            ),
            TaskType.CHAT_COMPLETION,
            _own or (lambda: openai_fake.midstream_error_response(("Hel",))),
        )


@pytest.mark.parametrize("provider_id", sorted(MID_STREAM))
async def test_an_error_in_the_middle_of_a_stream_is_typed(server: FakeServer, provider_id: str) -> None:
    open_stream, task, answer = MID_STREAM[provider_id]
    server.add("POST", "/.*", answer())
    endpoint = make_endpoint(task, settings_for(provider_id, server.url, task), secret=CANARY)
    texts: list[str] = []
    with pytest.raises(StreamInterruptedError) as info:
        async with call_context(provider_id, CANARY) as ctx:
            async for chunk in open_stream(endpoint, ctx):
                texts.append(chunk.content or "")
    assert "".join(texts) == "Hel"
    assert info.value.provider == provider_id and not info.value.retryable and info.value.provider_message
