"""The Contextual AI provider against its wire-exact fake: ES's fields, the rerank body ES sends
(`top_n` from the `top_k` task setting, `instruction`), the answer read best first, errors typed by
status with the status line when the body says nothing, and Save & test. The error kinds are in the
cross-provider table (test_error_kinds.py)."""

from __future__ import annotations

from typing import Any

import pytest
from service_helpers import call_context, call_task, contract_for, make_endpoint

import ai_connector_contextualai as contextual
from ai_connector.descriptor import service_descriptor
from ai_connector.plugin import (
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderServerError,
    RerankRequest,
    RerankResult,
    TaskType,
)
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind
from ai_connector_contextualai import testing as contextualai_testing
from ai_connector_contextualai.testing import MODEL, FakeContextual, connector, error_response

CANARY = "canary-contextual-3e8a60b2d4"
PROVIDER = contextual.PROVIDER
RERANK = TaskType.RERANK
DOCS = ("the moon", "star wars is a film", "wars")


@pytest.fixture
def fake(server: FakeServer) -> FakeContextual:
    return FakeContextual(server, api_key=CANARY)


def endpoint(url: str, *, settings: dict[str, Any] | None = None, **kwargs: Any) -> InferenceEndpoint:
    config, _ = connector(url)
    return make_endpoint(RERANK, {**config, **(settings or {})}, secret=CANARY, **kwargs)


def test_declares_es_fields_and_task_types() -> None:
    # ContextualAiService.Configuration; ES's `url` (not in the descriptor there) defaults to its rerank URI
    desc = service_descriptor(PROVIDER)
    assert (desc["service"], desc["name"], desc["task_types"]) == (
        "contextualai",
        "Contextual AI",
        ["rerank"],
    )
    fields = desc["configurations"]
    assert fields["model_id"] == {
        "description": "The model ID to use for Contextual AI requests.",
        "label": "Model ID",
        "required": True,
        "sensitive": False,
        "updatable": False,
        "type": "str",
        "supported_task_types": ["rerank"],
    }
    assert fields["api_key"]["label"] == "API Key" and fields["api_key"]["sensitive"]
    assert (
        fields["rate_limit.requests_per_minute"]["description"] == "Minimize the number of rate limit errors."
    )
    assert fields["url"]["default_value"] == "https://api.contextual.ai/v1/rerank"
    assert set(fields) == {"api_key", "model_id", "rate_limit.requests_per_minute", "url"}
    assert dict(PROVIDER.default_requests_per_minute) == {RERANK: 1000}
    assert set(PROVIDER.task_settings_schemas[RERANK]["properties"]) == {
        "instruction",
        "return_documents",
        "top_k",
    }


async def test_rerank_sends_es_body_and_reads_results(server: FakeServer, fake: FakeContextual) -> None:
    ep = endpoint(
        server.url, task_settings={"instruction": "Prefer films", "top_k": 2, "return_documents": True}
    )
    results = await call_task(PROVIDER, ep, RerankRequest(query="star wars", input=DOCS))
    sent = server.last
    assert (sent.path, sent.headers["authorization"]) == ("/v1/rerank", f"Bearer {CANARY}")
    # ContextualAiRerankRequestEntity: query, documents, model, top_n (from top_k), instruction
    assert sent.json() == {
        "query": "star wars",
        "documents": list(DOCS),
        "model": MODEL,
        "top_n": 2,
        "instruction": "Prefer films",
    }
    assert [r.index for r in results] == [2, 1]
    assert all(r.text is None for r in results)  # ES never returns the document text


async def test_the_request_top_n_wins_and_results_come_best_first(
    server: FakeServer, fake: FakeContextual
) -> None:
    fake.then(
        FakeResponse.json(
            {"results": [{"index": 1, "relevance_score": 0.5}, {"index": 0, "relevance_score": 0.9}]}
        )
    )
    results = await call_task(PROVIDER, endpoint(server.url, task_settings={"top_k": 5}),
                              RerankRequest(query="q", input=("a", "b"), top_n=2))  # fmt: skip
    assert server.last.json()["top_n"] == 2
    assert results == [RerankResult(0, 0.9), RerankResult(1, 0.5)]


async def test_unreadable_answer(server: FakeServer, fake: FakeContextual) -> None:
    fake.then(FakeResponse.json({"results": [{"index": 0, "score": 1}]}))
    with pytest.raises(InvalidResponseError, match="rerank"):
        await call_task(PROVIDER, endpoint(server.url))


@pytest.mark.parametrize(
    ("answer", "cls", "message"),
    [
        (error_response(503, empty=True), ProviderServerError, "HTTP/1.1 503 Service Unavailable"),
        (FakeResponse(status=502, body="<html>bad gateway</html>"), ProviderServerError,
         "HTTP/1.1 502 Bad Gateway"),
        (FakeResponse.json({"detail": [{"msg": "Field required", "loc": ["body", "query"]}]}, 422),
         InvalidRequestError, "Field required"),
        (FakeResponse.json({"message": "Too many documents"}, 400), InvalidRequestError,
         "Too many documents"),
    ],
)  # fmt: skip
async def test_error_messages_fall_back_to_the_status_line(
    server: FakeServer, fake: FakeContextual, answer: FakeResponse, cls: type, message: str
) -> None:
    fake.then(answer)
    with pytest.raises(cls) as info:
        await call_task(PROVIDER, endpoint(server.url))
    assert info.value.provider_message == message


async def test_an_unknown_model(server: FakeServer, fake: FakeContextual) -> None:
    with pytest.raises(ModelNotFoundError, match="Invalid model: ctxl-nope"):
        await call_task(PROVIDER, endpoint(server.url, settings={"model_id": "ctxl-nope"}))


async def test_save_and_test(server: FakeServer, fake: FakeContextual) -> None:
    async with call_context("contextualai", CANARY) as ctx:
        assert (await PROVIDER.test(endpoint(server.url), ctx)).ok
        fake.then(error_response(429, retry_after=3))
        result = await PROVIDER.test(endpoint(server.url), ctx)
    assert not result.ok and result.failure is FailureKind.RATE_LIMITED


TestContract = contract_for("contextualai", contextualai_testing)
