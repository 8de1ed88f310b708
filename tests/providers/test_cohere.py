"""The Cohere provider against its wire-exact fake: ES's fields, the v2 requests it sends for each
task type, the v2 chat SSE stream translated to unified chunks, Cohere's error bodies typed, and
Save & test."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from service_helpers import assert_no_secret, call_context, call_task, contract_for, make_endpoint

import ai_connector_cohere as cohere
from ai_connector.descriptor import service_descriptor
from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
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
    RerankRequest,
    RerankResult,
    StreamInterruptedError,
    TaskType,
    Usage,
)
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind
from ai_connector_cohere import testing as cohere_testing
from ai_connector_cohere.testing import (
    CHAT_MODEL,
    EMBED_MODEL,
    MONTHLY_LIMIT,
    PATHS,
    RERANK_MODEL,
    FakeCohere,
    chat_answer,
    connector,
    error_response,
    fake_vector,
    stream_events,
    stream_response,
)

CANARY = "canary-cohere-9b1f4e7a2c"
PROVIDER = cohere.PROVIDER
EMBED, RERANK, COMPLETION = TaskType.TEXT_EMBEDDING, TaskType.RERANK, TaskType.COMPLETION
TASKS = [EMBED, RERANK, COMPLETION]
SKY = "The sky above the port was the color of television tuned to a dead channel."


@pytest.fixture
def fake(server: FakeServer) -> FakeCohere:
    return FakeCohere(server, api_key=CANARY)


def endpoint(url: str, task: TaskType, *, secret: str | None = CANARY, **kwargs: Any) -> InferenceEndpoint:
    settings, _ = connector(url, task.value)
    settings.update(kwargs.pop("settings", {}))
    return make_endpoint(task, settings, secret=secret, **kwargs)


async def stream(ep: InferenceEndpoint, text: str = "Hello world") -> list[ChatChunk]:
    async with call_context("cohere", CANARY) as ctx:
        return [c async for c in PROVIDER.completion_stream(ep, CompletionRequest(input=text), ctx)]


# ---------------------------------------------------------------------------------------------
# Declaration: ES's CohereServiceTests.testGetConfiguration


def test_declares_es_fields_and_task_types() -> None:
    desc = service_descriptor(PROVIDER)
    assert (desc["service"], desc["name"]) == ("cohere", "Cohere")
    assert desc["task_types"] == ["completion", "text_embedding", "rerank"]
    tasks = ["completion", "text_embedding", "rerank"]
    fields = desc["configurations"]
    assert fields["api_key"] == {
        "description": "API Key for the provider you're connecting to.",
        "label": "API Key",
        "required": True,
        "sensitive": True,
        "updatable": True,
        "type": "str",
        "supported_task_types": tasks,
    }
    assert fields["model_id"] == {
        "description": "The name of the model to use for the inference task.",
        "label": "Model ID",
        "required": False,
        "sensitive": False,
        "updatable": False,
        "type": "str",
        "supported_task_types": tasks,
    }
    assert fields["rate_limit.requests_per_minute"] == {
        "description": "Minimize the number of rate limit errors.",
        "label": "Rate Limit",
        "required": False,
        "sensitive": False,
        "updatable": False,
        "type": "int",
        "supported_task_types": tasks,
    }
    assert set(fields) == {"api_key", "model_id", "rate_limit.requests_per_minute", "url"}
    assert dict(PROVIDER.default_requests_per_minute) == dict.fromkeys(TASKS, 10_000)


def test_urls_are_coheres_v2_endpoints_unless_the_connector_gives_one() -> None:
    assert PROVIDER.urls is not None
    for task, path in ((EMBED, "embed"), (RERANK, "rerank"), (COMPLETION, "chat")):
        ep = make_endpoint(task, {"model_id": "m"}, secret=CANARY)
        assert PROVIDER.urls(ep, {}) == [f"https://api.cohere.ai/v2/{path}"]
    ep = make_endpoint(EMBED, {"model_id": "m", "url": "http://proxy:9/any/path"}, secret=CANARY)
    assert PROVIDER.urls(ep, {}) == ["http://proxy:9/any/path"]


@pytest.mark.parametrize("task", TASKS, ids=str)
async def test_a_connector_without_a_model_is_refused_with_es_message(
    server: FakeServer, fake: FakeCohere, task: TaskType
) -> None:
    ep = make_endpoint(task, {"url": server.url + PATHS[task.value]}, secret=CANARY)
    with pytest.raises(ConfigValidationError, match=r"The \[service_settings.model_id\] field is required"):
        await call_task(PROVIDER, ep)
    assert PROVIDER.on_save is not None
    async with call_context("cohere") as ctx:
        with pytest.raises(ConfigValidationError) as info:
            await PROVIDER.on_save(ep, ctx, False)
    assert info.value.errors[0].path == "config.providerConfig.model_id"
    assert server.requests == []


# ---------------------------------------------------------------------------------------------
# text_embedding: POST /v2/embed


async def test_embed_sends_es_v2_body_and_reads_float_vectors(server: FakeServer, fake: FakeCohere) -> None:
    ep = endpoint(server.url, EMBED, headers={"X-Team": "search", "Authorization": "must-not-win"})
    vectors = await call_task(PROVIDER, ep, EmbeddingRequest(input=("a", SKY), input_type="ingest"))
    assert vectors == [fake_vector("a"), fake_vector(SKY)]
    sent = server.last
    assert (sent.method, sent.path) == ("POST", "/v2/embed")
    assert sent.headers["authorization"] == f"Bearer {CANARY}"
    assert sent.headers["request-source"] == "unspecified:elasticsearch"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-team"] == "search"
    # CohereV2EmbeddingsRequest: texts, model, input_type, embedding_types (truncate only when set)
    assert sent.json() == {
        "texts": ["a", SKY],
        "model": EMBED_MODEL,
        "input_type": "search_document",
        "embedding_types": ["float"],
    }


@pytest.mark.parametrize(
    ("request_type", "setting", "sent"),
    [
        ("search", None, "search_query"),
        ("ingest", "search", "search_document"),  # the request's input type wins
        (None, "clustering", "clustering"),
        (None, "classification", "classification"),
        (None, None, "search_query"),  # ES defaults to SEARCH for v2, which requires one
    ],
)
async def test_embed_input_type_mapping(
    server: FakeServer, fake: FakeCohere, request_type: str | None, setting: str | None, sent: str
) -> None:
    task_settings = {"input_type": setting, "truncate": "START"} if setting else {}
    await call_task(PROVIDER, endpoint(server.url, EMBED, task_settings=task_settings),
                    EmbeddingRequest(input=("x",), input_type=request_type))  # fmt: skip
    body = server.last.json()
    assert body["input_type"] == sent
    assert body.get("truncate") == ("START" if setting else None)


async def test_embed_refuses_an_unknown_input_type_without_a_request(
    server: FakeServer, fake: FakeCohere
) -> None:
    with pytest.raises(InvalidRequestError, match=r"input type \[unicorn\]"):
        await call_task(
            PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("x",), input_type="unicorn")
        )
    assert server.requests == []


async def test_embed_more_than_96_texts_is_coheres_400(server: FakeServer, fake: FakeCohere) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await call_task(PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("t",) * 97))
    assert (
        info.value.provider_message
        == "invalid request: total number of texts must be at most 96 - received 97"
    )
    assert info.value.status == 400 and not info.value.retryable


@pytest.mark.parametrize(
    "answer",
    [
        {"embeddings": [[1, 2], [3, 4]]},  # v1: a plain list of float vectors
        {"embeddings": {"int8": [[1, 2], [3, 4]]}, "response_type": "embeddings_by_type"},
    ],
)
async def test_embed_reads_v1_lists_and_other_embedding_types(
    server: FakeServer, fake: FakeCohere, answer: dict[str, Any]
) -> None:
    fake.then(FakeResponse.json(answer))
    assert await call_task(PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("a", "b"))) == [
        [1.0, 2.0],
        [3.0, 4.0],
    ]


@pytest.mark.parametrize(
    "answer",
    [
        {"embeddings": {"float": [[1.0]]}},
        {"embeddings": {"ubinary": [[1]]}},
        {"id": "x"},
        {"embeddings": [["a"]]},
    ],
)
async def test_embed_unreadable_answers_are_invalid_responses(
    server: FakeServer, fake: FakeCohere, answer: dict[str, Any]
) -> None:
    fake.then(FakeResponse.json(answer))
    with pytest.raises(InvalidResponseError):
        await call_task(PROVIDER, endpoint(server.url, EMBED), EmbeddingRequest(input=("a", "b")))


# ---------------------------------------------------------------------------------------------
# rerank: POST /v2/rerank


async def test_rerank_sends_es_v2_body_and_reads_results_best_first(
    server: FakeServer, fake: FakeCohere
) -> None:
    ep = endpoint(server.url, RERANK, task_settings={"return_documents": True, "max_chunks_per_doc": 3})
    docs = ("the moon", "star wars is a film", "wars of the stars")
    results = await call_task(PROVIDER, ep, RerankRequest(query="star wars", input=docs, top_n=2))
    assert server.last.path == "/v2/rerank"
    assert server.last.json() == {
        "model": RERANK_MODEL,
        "query": "star wars",
        "documents": list(docs),
        "return_documents": True,
        "top_n": 2,
        "max_chunks_per_doc": 3,
    }
    assert [r.index for r in results] == [1, 2]
    assert results[0].text == "star wars is a film" and results[0].score > results[1].score


async def test_rerank_top_n_from_task_settings_and_no_text_unless_returned(
    server: FakeServer, fake: FakeCohere
) -> None:
    ep = endpoint(server.url, RERANK, task_settings={"top_n": 1})
    results = await call_task(PROVIDER, ep, RerankRequest(query="q", input=("a q", "b")))
    assert server.last.json() == {"model": RERANK_MODEL, "query": "q", "documents": ["a q", "b"], "top_n": 1}
    assert results == [RerankResult(index=0, score=results[0].score, text=None)]


async def test_rerank_unreadable_answer(server: FakeServer, fake: FakeCohere) -> None:
    fake.then(FakeResponse.json({"results": [{"index": 0}]}))
    with pytest.raises(InvalidResponseError, match="rerank"):
        await call_task(PROVIDER, endpoint(server.url, RERANK))


# ---------------------------------------------------------------------------------------------
# completion: POST /v2/chat


async def test_completion_sends_one_user_message_and_reads_the_text(
    server: FakeServer, fake: FakeCohere
) -> None:
    assert await call_task(PROVIDER, endpoint(server.url, COMPLETION)) == ["Hello!"]
    assert server.last.path == "/v2/chat"
    # CohereV2CompletionRequest: messages (the input as one user message), model, stream
    assert server.last.json() == {
        "messages": [{"role": "user", "content": "What is Elastic?"}],
        "model": CHAT_MODEL,
        "stream": False,
    }


async def test_completion_skips_thinking_blocks(server: FakeServer, fake: FakeCohere) -> None:
    answer = chat_answer("")
    answer["message"]["content"] = [
        {"type": "thinking", "thinking": "Let me think."},
        {"type": "text", "text": "Elastic is "},
        {"type": "text", "text": "a search company."},
    ]
    fake.then(FakeResponse.json(answer))
    assert await call_task(PROVIDER, endpoint(server.url, COMPLETION)) == ["Elastic is a search company."]


@pytest.mark.parametrize(
    "answer",
    [
        FakeResponse(body="{oops", content_type="application/json"),
        FakeResponse.json({"message": {"content": 3}}),
    ],
)
async def test_completion_unreadable_answers(
    server: FakeServer, fake: FakeCohere, answer: FakeResponse
) -> None:
    fake.then(answer)
    with pytest.raises(InvalidResponseError):
        await call_task(PROVIDER, endpoint(server.url, COMPLETION))


# ---------------------------------------------------------------------------------------------
# completion, streamed: the v2 chat SSE events


def assert_unified(chunks: list[ChatChunk], text: str, finish: str, usage: Usage) -> None:
    """The cross-provider stream invariant: role first, the text, one finish reason, usage last."""
    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == text
    assert [c.finish_reason for c in chunks if c.finish_reason] == [finish]
    assert [c.usage for c in chunks if c.usage] == [usage] and chunks[-1].is_usage_only


@pytest.mark.parametrize("done", [False, True], ids=["message-end", "message-end+[DONE]"])
async def test_stream_translates_v2_events(server: FakeServer, fake: FakeCohere, done: bool) -> None:
    fake.then(stream_response(stream_events(["Hel", "lo", " \u00e9\U0001f600"], output_tokens=3), done=done))
    chunks = await stream(endpoint(server.url, COMPLETION))
    assert_unified(chunks, "Hello \u00e9\U0001f600", "stop", Usage(prompt_tokens=10, completion_tokens=3))
    assert chunks[0].id == "29f14a5a-11de-4cae-9800-25e4747408ea"
    sent = server.last
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.json() == {
        "messages": [{"role": "user", "content": "Hello world"}],
        "model": CHAT_MODEL,
        "stream": True,
    }


async def test_stream_of_the_fake_itself(server: FakeServer, fake: FakeCohere) -> None:
    chunks = await stream(endpoint(server.url, COMPLETION))
    assert_unified(chunks, "Hello!", "stop", Usage(prompt_tokens=10, completion_tokens=5))


@pytest.mark.parametrize(("reason", "finish"), [("MAX_TOKENS", "length"), ("STOP_SEQUENCE", "stop")])
async def test_stream_finish_reasons(server: FakeServer, fake: FakeCohere, reason: str, finish: str) -> None:
    fake.then(stream_response(stream_events(["x"], finish_reason=reason)))
    assert [c.finish_reason for c in await stream(endpoint(server.url, COMPLETION)) if c.finish_reason] == [
        finish
    ]


async def test_stream_usage_falls_back_to_billed_units(server: FakeServer, fake: FakeCohere) -> None:
    events = stream_events(["x"])
    events[-1]["delta"]["usage"] = {"billed_units": {"input_tokens": 4, "output_tokens": 2}}
    fake.then(stream_response(events))
    assert (await stream(endpoint(server.url, COMPLETION)))[-1].usage == Usage(
        prompt_tokens=4, completion_tokens=2
    )


async def test_stream_skips_thinking_citations_tool_plans_and_unknown_events(
    server: FakeServer, fake: FakeCohere
) -> None:
    start, *_, end = stream_events(["Answer"])
    events = [
        start,
        {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}},
        },
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "hmm"}}}},
        {"type": "content-end", "index": 0},
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will"}}},
        {"type": "some-future-event", "delta": {}},
        {
            "type": "content-start",
            "index": 1,
            "delta": {"message": {"content": {"type": "text", "text": ""}}},
        },
        {"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "Answer"}}}},
        {"type": "content-end", "index": 1},
        {"type": "citation-start", "index": 0, "delta": {"message": {"citations": {"start": 0, "end": 6}}}},
        {"type": "citation-end", "index": 0},
        end,
    ]
    fake.then(stream_response(events))
    assert_unified(await stream(endpoint(server.url, COMPLETION)), "Answer", "stop", Usage(10, 5))


async def test_stream_error_finish_is_a_typed_mid_stream_error(
    server: FakeServer, fake: FakeCohere, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.then(
        stream_response(stream_events(["Hel"], finish_reason="ERROR", error=f"internal error near {CANARY}"))
    )
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError) as info:
        async with call_context("cohere", CANARY) as ctx:
            async for chunk in PROVIDER.completion_stream(
                endpoint(server.url, COMPLETION), CompletionRequest("x"), ctx
            ):
                received.append(chunk)
    assert "".join(c.content or "" for c in received) == "Hel"
    err = info.value
    assert err.code == "ERROR" and "internal error near" in (err.provider_message or "") and not err.retryable
    assert str(err).startswith(
        "Cohere stopped the stream due to an error: "
    )  # CohereStreamingProcessor's text
    assert_no_secret(CANARY, err, repr(err), err.provider_message, caplog.text)


async def test_stream_timeout_finish_is_a_mid_stream_error(server: FakeServer, fake: FakeCohere) -> None:
    fake.then(stream_response(stream_events(["x"], finish_reason="TIMEOUT")))
    with pytest.raises(StreamInterruptedError, match="TIMEOUT"):
        await stream(endpoint(server.url, COMPLETION))


@pytest.mark.parametrize(
    "answer",
    [
        stream_response(stream_events(["Hel", "lo"]), abort_after=3),  # the connection breaks off
        stream_response(stream_events(["Hel", "lo"])[:-1]),  # the stream ends before message-end
        stream_response(stream_events(["Hel", "lo"])[:-1], done=True),  # [DONE] before message-end
    ],
    ids=["broken", "no-message-end", "early-done"],
)
async def test_stream_that_ends_early_is_interrupted(
    server: FakeServer, fake: FakeCohere, answer: FakeResponse
) -> None:
    fake.then(answer)
    with pytest.raises(StreamInterruptedError):
        await stream(endpoint(server.url, COMPLETION))


async def test_stream_malformed_event(server: FakeServer, fake: FakeCohere) -> None:
    fake.then(FakeResponse(chunks=['event: content-delta\ndata: {"type":"content-delta","delta":{}}\n\n']))
    with pytest.raises(InvalidResponseError, match="content-delta"):
        await stream(endpoint(server.url, COMPLETION))
    fake.then(FakeResponse(chunks=["event: message-start\ndata: {nope\n\n"]))
    with pytest.raises(InvalidResponseError):
        await stream(endpoint(server.url, COMPLETION))


# ---------------------------------------------------------------------------------------------
# Error kinds, for every call


async def run(task: TaskType | str, ep: InferenceEndpoint) -> Any:
    if task == "stream":
        return await stream(ep)
    return await call_task(PROVIDER, ep)


CALLS = [EMBED, RERANK, COMPLETION, "stream"]


def ep_for(url: str, task: TaskType | str, **kwargs: Any) -> InferenceEndpoint:
    return endpoint(url, COMPLETION if task == "stream" else task, **kwargs)  # type: ignore[arg-type]


ERRORS = [
    pytest.param(error_response(429, retry_after=7), RateLimitError, 429, True, 7.0, id="429-rate-limit"),
    pytest.param(
        error_response(429, MONTHLY_LIMIT), RateLimitError, 429, False, None, id="429-monthly-quota"
    ),
    pytest.param(error_response(402), RateLimitError, 402, False, None, id="402-billing-quota"),
    pytest.param(error_response(498), AuthenticationError, 498, False, None, id="498-invalid-token"),
    pytest.param(error_response(500), ProviderServerError, 500, True, None, id="500"),
    pytest.param(error_response(503), ProviderServerError, 503, True, None, id="503"),
    pytest.param(
        error_response(400, "invalid request: bad"), InvalidRequestError, 400, False, None, id="400"
    ),
]


@pytest.mark.parametrize("task", CALLS, ids=str)
@pytest.mark.parametrize(("answer", "cls", "status", "retryable", "retry_after"), ERRORS)
async def test_error_bodies_are_typed(
    server: FakeServer,
    fake: FakeCohere,
    task: TaskType | str,
    answer: FakeResponse,
    cls: type[ProviderError],
    status: int,
    retryable: bool,
    retry_after: float | None,
) -> None:
    fake.then(answer)
    with pytest.raises(cls) as info:
        await run(task, ep_for(server.url, task))
    err = info.value
    assert type(err) is cls and (err.status, err.retryable, err.retry_after) == (
        status,
        retryable,
        retry_after,
    )
    assert err.provider == "cohere" and err.provider_message and err.provider_message in str(err)


@pytest.mark.parametrize("task", CALLS, ids=str)
async def test_a_wrong_key_is_a_credentials_error(
    server: FakeServer, fake: FakeCohere, task: TaskType | str
) -> None:
    with pytest.raises(AuthenticationError) as info:
        await run(task, ep_for(server.url, task, secret="wrong-key-0000"))
    assert info.value.provider_message == "invalid api token" and info.value.kind is FailureKind.CREDENTIALS


@pytest.mark.parametrize("task", CALLS, ids=str)
async def test_an_unknown_model_is_model_not_found(
    server: FakeServer, fake: FakeCohere, task: TaskType | str
) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        await run(task, ep_for(server.url, task, settings={"model_id": "command-x"}))
    assert info.value.status == 404 and "model 'command-x' not found" in str(info.value)


@pytest.mark.parametrize("task", CALLS, ids=str)
async def test_an_echoed_key_is_redacted(server: FakeServer, fake: FakeCohere, task: TaskType | str) -> None:
    fake.then(error_response(401, f"invalid api token {CANARY}"))
    with pytest.raises(AuthenticationError) as info:
        await run(task, ep_for(server.url, task))
    assert_no_secret(CANARY, info.value, repr(info.value), info.value.provider_message)


async def test_a_non_json_error_body_keeps_its_text(server: FakeServer, fake: FakeCohere) -> None:
    fake.then(FakeResponse(status=502, body="<html>Bad Gateway</html>", content_type="text/html"))
    with pytest.raises(ProviderServerError, match="Bad Gateway"):
        await run(EMBED, ep_for(server.url, EMBED))


# ---------------------------------------------------------------------------------------------
# Save & test


@pytest.mark.parametrize("task", TASKS, ids=str)
async def test_save_and_test_runs_the_task(server: FakeServer, fake: FakeCohere, task: TaskType) -> None:
    async with call_context("cohere", CANARY) as ctx:
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert result.ok, result
    assert server.last.path == PATHS[task.value]


@pytest.mark.parametrize("task", TASKS, ids=str)
@pytest.mark.parametrize(
    ("answer", "failure"),
    [
        (error_response(401), FailureKind.CREDENTIALS),
        (error_response(404, "model 'x' not found"), FailureKind.MODEL_NOT_FOUND),
        (error_response(429, retry_after=2), FailureKind.RATE_LIMITED),
        (error_response(500), FailureKind.PROVIDER_ERROR),
    ],
)
async def test_save_and_test_failure_kinds(
    server: FakeServer, fake: FakeCohere, task: TaskType, answer: FakeResponse, failure: FailureKind
) -> None:
    fake.then(answer)
    async with call_context("cohere", CANARY) as ctx:
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert not result.ok and result.failure is failure
    assert_no_secret(CANARY, result.message, repr(result))


TestContract = contract_for("cohere", cohere_testing)
