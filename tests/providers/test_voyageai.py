"""The Voyage AI provider against its wire-exact fake: ES's fields, the embeddings and rerank bodies
ES sends (`output_dtype`, `top_k`, `truncation`), Voyage's answers and `{"detail"}` errors, and
Save & test. The error kinds are in the cross-provider table (test_error_kinds.py)."""

from __future__ import annotations

from typing import Any

import pytest
from service_helpers import call_context, call_task, contract_for, make_endpoint

import ai_connector_voyageai as voyage
from ai_connector.descriptor import service_descriptor
from ai_connector.plugin import (
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    RateLimitError,
    RerankRequest,
    TaskType,
)
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind
from ai_connector_voyageai import testing as voyageai_testing
from ai_connector_voyageai.testing import (
    EMBED_MODEL,
    FREE_TIER_LIMIT,
    RERANK_MODEL,
    FakeVoyage,
    connector,
    error_response,
    fake_vector,
)

CANARY = "canary-voyage-71d0c3b95e"
PROVIDER = voyage.PROVIDER
EMBED, RERANK = TaskType.TEXT_EMBEDDING, TaskType.RERANK


@pytest.fixture
def fake(server: FakeServer) -> FakeVoyage:
    return FakeVoyage(server, api_key=CANARY)


def endpoint(
    url: str, task: TaskType, *, settings: dict[str, Any] | None = None, **kwargs: Any
) -> InferenceEndpoint:
    config, _ = connector(url, task.value)
    return make_endpoint(task, {**config, **(settings or {})}, secret=CANARY, **kwargs)


def test_declares_es_fields_and_task_types() -> None:
    # VoyageAIService.Configuration: model_id, api_key, rate_limit (less the multimodal `embedding` task)
    desc = service_descriptor(PROVIDER)
    assert (desc["service"], desc["name"], desc["task_types"]) == (
        "voyageai",
        "Voyage AI",
        ["text_embedding", "rerank"],
    )
    fields = desc["configurations"]
    assert set(fields) == {"api_key", "model_id", "rate_limit.requests_per_minute", "url"}
    assert fields["model_id"]["label"] == "Model ID" and fields["model_id"]["required"]
    assert not fields["model_id"]["updatable"] and fields["model_id"]["type"] == "str"
    assert fields["api_key"] == {
        "description": "API Key for the provider you're connecting to.",
        "label": "API Key",
        "required": True,
        "sensitive": True,
        "updatable": True,
        "type": "str",
        "supported_task_types": ["text_embedding", "rerank"],
    }
    assert fields["rate_limit.requests_per_minute"]["label"] == "Rate Limit"
    assert dict(PROVIDER.default_requests_per_minute) == {EMBED: 2000, RERANK: 2000}
    assert set(PROVIDER.task_settings_schemas[RERANK]["properties"]) == {
        "return_documents",
        "top_k",
        "truncation",
    }
    assert PROVIDER.urls is not None
    assert PROVIDER.urls(make_endpoint(EMBED, {"model_id": "m"}, secret=None), {}) == [
        "https://api.voyageai.com/v1/embeddings"
    ]


@pytest.mark.parametrize(("input_type", "sent"), [("ingest", "document"), ("search", "query"), (None, None)])
async def test_embeddings_send_es_body(
    server: FakeServer, fake: FakeVoyage, input_type: str | None, sent: str
) -> None:
    ep = endpoint(server.url, EMBED, task_settings={"truncation": False})
    vectors = await call_task(PROVIDER, ep, EmbeddingRequest(input=("a", "b"), input_type=input_type))
    assert vectors == [fake_vector("a"), fake_vector("b")]
    request = server.last
    assert (request.path, request.headers["authorization"]) == ("/v1/embeddings", f"Bearer {CANARY}")
    assert request.headers["request-source"] == "unspecified:elasticsearch"
    expected: dict[str, Any] = {"input": ["a", "b"], "model": EMBED_MODEL}
    if sent:
        expected["input_type"] = sent
    assert request.json() == {**expected, "truncation": False, "output_dtype": "float"}


async def test_the_task_setting_input_type_applies_when_the_request_has_none(
    server: FakeServer, fake: FakeVoyage
) -> None:
    await call_task(PROVIDER, endpoint(server.url, EMBED, task_settings={"input_type": "search"}),
                    EmbeddingRequest(input=("a",)))  # fmt: skip
    assert server.last.json()["input_type"] == "query"


@pytest.mark.parametrize("input_type", ["classification", "clustering"])
async def test_only_ingest_and_search_are_allowed(
    server: FakeServer, fake: FakeVoyage, input_type: str
) -> None:
    # ES: validateInputTypeAgainstAllowlist refuses other input types for Voyage AI
    with pytest.raises(InvalidRequestError, match=rf"input type \[{input_type}\]"):
        await call_task(
            PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("a",), input_type=input_type)
        )
    assert server.requests == []


async def test_rerank_sends_top_k_and_reads_string_documents(server: FakeServer, fake: FakeVoyage) -> None:
    ep = endpoint(
        server.url, RERANK, task_settings={"return_documents": True, "top_k": 5, "truncation": True}
    )
    results = await call_task(
        PROVIDER, ep, RerankRequest(query="star wars", input=("moon", "star wars"), top_n=1)
    )
    assert server.last.json() == {
        "model": RERANK_MODEL,
        "query": "star wars",
        "documents": ["moon", "star wars"],
        "return_documents": True,
        "top_k": 1,  # the request's top_n wins over the task setting
        "truncation": True,
    }
    assert [(r.index, r.text) for r in results] == [(1, "star wars")]


async def test_rerank_top_k_from_task_settings_and_results_best_first(
    server: FakeServer, fake: FakeVoyage
) -> None:
    fake.then(FakeResponse.json({"object": "list", "data": [
        {"relevance_score": 0.421875, "index": 1}, {"relevance_score": 0.4375, "index": 0}
    ], "model": RERANK_MODEL, "usage": {"total_tokens": 26}}))  # fmt: skip
    results = await call_task(PROVIDER, endpoint(server.url, RERANK, task_settings={"top_k": 2}))
    assert server.last.json()["top_k"] == 2
    assert [(r.index, r.score, r.text) for r in results] == [(0, 0.4375, None), (1, 0.421875, None)]


@pytest.mark.parametrize(("task", "answer"), [(EMBED, {"data": [{"index": 0}]}), (RERANK, {"results": []})])
async def test_unreadable_answers(
    server: FakeServer, fake: FakeVoyage, task: TaskType, answer: dict[str, Any]
) -> None:
    fake.then(FakeResponse.json(answer))
    with pytest.raises(InvalidResponseError):
        await call_task(PROVIDER, endpoint(server.url, task))


async def test_an_unknown_model_is_a_400_and_model_not_found(server: FakeServer, fake: FakeVoyage) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        await call_task(PROVIDER, endpoint(server.url, EMBED, settings={"model_id": "voyage-9"}))
    assert info.value.status == 400 and "Model voyage-9 is not supported" in str(info.value)


async def test_the_free_tier_limit_is_a_retryable_rate_limit(server: FakeServer, fake: FakeVoyage) -> None:
    fake.then(error_response(429, FREE_TIER_LIMIT))
    with pytest.raises(RateLimitError) as info:
        await call_task(PROVIDER, endpoint(server.url, RERANK))
    assert info.value.retryable and "3 RPM" in str(info.value)


@pytest.mark.parametrize("task", [EMBED, RERANK], ids=str)
async def test_save_and_test(server: FakeServer, fake: FakeVoyage, task: TaskType) -> None:
    async with call_context("voyageai", CANARY) as ctx:
        assert (await PROVIDER.test(endpoint(server.url, task), ctx)).ok
        fake.then(error_response(403))
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert not result.ok and result.failure is FailureKind.CREDENTIALS and "IP address" in result.message


TestContract = contract_for("voyageai", voyageai_testing)
