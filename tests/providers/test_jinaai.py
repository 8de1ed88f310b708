"""The Jina AI provider against its wire-exact fake: ES's fields, the embeddings and rerank bodies ES
sends, Jina's answers (and their odd forms), FastAPI error bodies, and Save & test. The error kinds
are in the cross-provider table (test_error_kinds.py)."""

from __future__ import annotations

from typing import Any

import pytest
from service_helpers import call_context, call_task, contract_for, make_endpoint

import ai_connector_jinaai as jina
from ai_connector.descriptor import service_descriptor
from ai_connector.plugin import (
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    RerankRequest,
    TaskType,
)
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind
from ai_connector_jinaai import testing as jinaai_testing
from ai_connector_jinaai.testing import (
    EMBED_MODEL,
    RERANK_MODEL,
    FakeJina,
    connector,
    error_response,
    fake_vector,
    validation_error,
)

CANARY = "canary-jina-4c2e8d1f07"
PROVIDER = jina.PROVIDER
EMBED, RERANK = TaskType.TEXT_EMBEDDING, TaskType.RERANK


@pytest.fixture
def fake(server: FakeServer) -> FakeJina:
    return FakeJina(server, api_key=CANARY)


def endpoint(
    url: str, task: TaskType, *, settings: dict[str, Any] | None = None, **kwargs: Any
) -> InferenceEndpoint:
    config, _ = connector(url, task.value)
    return make_endpoint(task, {**config, **(settings or {})}, secret=CANARY, **kwargs)


def test_declares_es_fields_and_task_types() -> None:
    # JinaAIServiceTests.testGetConfiguration (newest ES, less the multimodal `embedding` task type)
    desc = service_descriptor(PROVIDER)
    assert (desc["service"], desc["name"], desc["task_types"]) == (
        "jinaai",
        "Jina AI",
        ["text_embedding", "rerank"],
    )
    fields = desc["configurations"]
    assert fields["model_id"] == {
        "description": "The name of the model to use for the inference task.",
        "label": "Model ID",
        "required": True,
        "sensitive": False,
        "updatable": False,
        "type": "str",
        "supported_task_types": ["text_embedding", "rerank"],
    }
    assert fields["embedding_type"]["default_value"] == "float"
    assert fields["embedding_type"]["label"] == "Embedding type"
    assert fields["embedding_type"]["description"].startswith(
        "The type of embedding to return. One of [float, bit"
    )
    assert fields["dimensions"]["type"] == "int" and fields["dimensions"]["supported_task_types"] == [
        "text_embedding"
    ]
    assert fields["similarity"]["label"] == "Similarity" and not fields["similarity"]["required"]
    assert fields["api_key"]["sensitive"] and fields["api_key"]["updatable"] and fields["api_key"]["required"]
    assert (
        fields["rate_limit.requests_per_minute"]["description"] == "Minimize the number of rate limit errors."
    )
    assert set(fields) == {
        "api_key", "dimensions", "embedding_type", "model_id", "rate_limit.requests_per_minute",
        "similarity", "url",
    }  # fmt: skip
    assert dict(PROVIDER.default_requests_per_minute) == {EMBED: 2000, RERANK: 2000}
    assert PROVIDER.urls is not None
    ep = make_endpoint(RERANK, {"model_id": "m"}, secret=CANARY)
    assert PROVIDER.urls(ep, {}) == ["https://api.jina.ai/v1/rerank"]


async def test_embeddings_send_es_body_and_read_vectors(server: FakeServer, fake: FakeJina) -> None:
    ep = endpoint(server.url, EMBED, settings={"dimensions": 8}, task_settings={"late_chunking": True})
    vectors = await call_task(PROVIDER, ep, EmbeddingRequest(input=("a", "b c"), input_type="ingest"))
    assert vectors == [fake_vector("a"), fake_vector("b c")]
    sent = server.last
    assert (sent.path, sent.headers["authorization"]) == ("/v1/embeddings", f"Bearer {CANARY}")
    assert sent.headers["request-source"] == "unspecified:elasticsearch"
    assert sent.json() == {
        "input": ["a", "b c"],
        "model": EMBED_MODEL,
        "embedding_type": "float",
        "task": "retrieval.passage",
        "late_chunking": True,
        "dimensions": 8,
    }


@pytest.mark.parametrize(
    ("request_type", "setting", "task"),
    [
        ("search", "ingest", "retrieval.query"),  # the request's input type wins
        (None, "clustering", "separation"),
        (None, "classification", "classification"),
        (None, None, None),
    ],
)
async def test_input_types_become_jina_tasks(
    server: FakeServer, fake: FakeJina, request_type: str | None, setting: str | None, task: str | None
) -> None:
    ep = endpoint(server.url, EMBED, task_settings={"input_type": setting} if setting else {})
    await call_task(PROVIDER, ep, EmbeddingRequest(input=("x",), input_type=request_type))
    assert server.last.json().get("task") == task


@pytest.mark.parametrize(("input_type", "task"), [("ingest", None), ("search", "retrieval.query")])
async def test_clip_models_get_a_task_only_for_queries(
    server: FakeServer, fake: FakeJina, input_type: str, task: str | None
) -> None:
    fake.models.append("jina-clip-v2")
    ep = endpoint(server.url, EMBED, settings={"model_id": "jina-clip-v2"})
    await call_task(PROVIDER, ep, EmbeddingRequest(input=("x",), input_type=input_type))
    assert server.last.json().get("task") == task


async def test_late_chunking_is_off_past_5500_words(server: FakeServer, fake: FakeJina) -> None:
    ep = endpoint(server.url, EMBED, task_settings={"late_chunking": True})
    await call_task(PROVIDER, ep, EmbeddingRequest(input=("word " * 5501,)))
    assert server.last.json()["late_chunking"] is False


@pytest.mark.parametrize("kind", ["bit", "binary"])
async def test_bit_and_binary_are_jinas_binary_int8_values(
    server: FakeServer, fake: FakeJina, kind: str
) -> None:
    ep = endpoint(server.url, EMBED, settings={"embedding_type": kind})
    assert await call_task(PROVIDER, ep, EmbeddingRequest(input=("x",))) == [fake_vector("x", binary=True)]
    assert server.last.json()["embedding_type"] == "binary"


async def test_embeddings_are_put_back_in_input_order(server: FakeServer, fake: FakeJina) -> None:
    data = [
        {"object": "embedding", "index": 1, "embedding": [2.0]},
        {"object": "embedding", "index": 0, "embedding": [1]},
    ]
    fake.then(FakeResponse.json({"object": "list", "data": data}))
    assert await call_task(PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("a", "b"))) == [
        [1.0],
        [2.0],
    ]


@pytest.mark.parametrize(
    "answer", [{"data": [{"index": 0}]}, {"detail": "x"}, {"data": [{"embedding": [1]}]}]
)
async def test_unreadable_embeddings(server: FakeServer, fake: FakeJina, answer: dict[str, Any]) -> None:
    fake.then(FakeResponse.json(answer))
    with pytest.raises(InvalidResponseError):
        await call_task(PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("a", "b")))


@pytest.mark.parametrize("as_string", [False, True], ids=["document-object", "document-string"])
async def test_rerank_sends_es_body_and_reads_both_document_forms(
    server: FakeServer, fake: FakeJina, as_string: bool
) -> None:
    fake.document_as_string = as_string
    ep = endpoint(server.url, RERANK, task_settings={"top_n": 5, "return_documents": True})
    results = await call_task(
        PROVIDER, ep, RerankRequest(query="star wars", input=("moon", "star wars"), top_n=1)
    )
    assert server.last.json() == {
        "model": RERANK_MODEL,
        "query": "star wars",
        "documents": ["moon", "star wars"],
        "top_n": 1,
        "return_documents": True,
    }
    assert [(r.index, r.text) for r in results] == [(1, "star wars")]


async def test_rerank_unreadable(server: FakeServer, fake: FakeJina) -> None:
    fake.then(FakeResponse.json({"results": [{"index": "zero", "relevance_score": 1}]}))
    with pytest.raises(InvalidResponseError, match="rerank"):
        await call_task(PROVIDER, endpoint(server.url, RERANK))


async def test_an_unknown_model_is_fastapis_422_and_model_not_found(
    server: FakeServer, fake: FakeJina
) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        await call_task(PROVIDER, endpoint(server.url, EMBED, settings={"model_id": "jina-nope"}))
    assert info.value.status == 422 and (info.value.provider_message or "").startswith(
        "model: Input should be"
    )


async def test_other_validation_errors_are_invalid_requests(server: FakeServer, fake: FakeJina) -> None:
    fake.then(validation_error("input", "List should have at most 2048 items", [], "too_long"))
    with pytest.raises(InvalidRequestError) as info:
        await call_task(PROVIDER, endpoint(server.url, EMBED))
    assert info.value.provider_message == "input: List should have at most 2048 items"


async def test_an_unknown_input_type_is_refused_before_a_request(server: FakeServer, fake: FakeJina) -> None:
    with pytest.raises(InvalidRequestError, match=r"input type \[other\]"):
        await call_task(
            PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("x",), input_type="other")
        )
    assert server.requests == []


@pytest.mark.parametrize("task", [EMBED, RERANK], ids=str)
async def test_save_and_test(server: FakeServer, fake: FakeJina, task: TaskType) -> None:
    async with call_context("jinaai", CANARY) as ctx:
        assert (await PROVIDER.test(endpoint(server.url, task), ctx)).ok
        fake.then(error_response(402))
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert not result.ok and result.failure is FailureKind.RATE_LIMITED and result.status_code == 402


TestContract = contract_for("jinaai", jinaai_testing)
