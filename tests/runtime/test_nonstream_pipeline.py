"""The runtime's non-streamed path: `unified_completion` through a provider's whole-answer call
(`Provider.chat_completion`), its limits (the aggregated-size cap, the call's deadline, no stream
clocks), its retries, and the providers that keep the stream (tests/providers/test_chat_nonstream.py
holds every provider's two paths equal)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ai_connector.errors import FailureKind, ProviderError, ResponseTooLargeError
from ai_connector.manager import default_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.runtime.aggregate import answer_body_cap
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.scenario import ChatScenario
from ai_connector.types import TaskType
from ai_connector.validation import ValidatedConnector, validate_connector

openai_testing = pytest.importorskip("ai_connector_openai.testing")

PARAMS = {"body": {"messages": [{"role": "user", "content": "Hi"}]}}


def connector(url: str) -> ValidatedConnector:
    config, secrets = openai_testing.connector(url)
    config["rate_limit"] = {"requests_per_minute": 100_000}
    document = {
        "name": "openai",
        "connector_type_id": ".inference",
        "config": {"provider": "openai", "taskType": "chat_completion", "providerConfig": config},
        "secrets": {"providerSecrets": secrets},
    }
    return validate_connector(document, default_registry(), connector_id="nonstream")


def streamed_only(c: ValidatedConnector) -> ValidatedConnector:
    return dataclasses.replace(c, provider=dataclasses.replace(c.provider, chat_completion=None))


async def run(settings: RuntimeSettings, c: ValidatedConnector) -> Any:
    async with Runtime(default_registry(), settings, random=lambda: 0.0) as runtime:
        try:
            return await runtime.execute(c, "unified_completion", PARAMS)
        except ProviderError as exc:
            return exc


def test_which_built_in_chat_providers_answer_whole() -> None:
    """Every chat provider whose service has a non-streamed answer equal to its stream has the call;
    Elastic's EIS `chat_completion` is stream-only (Elasticsearch's `_stream` API)."""
    registry = default_registry()
    chat = {p.id for p in registry if TaskType.CHAT_COMPLETION in p.task_types}
    whole = {pid for pid in chat if registry.get(pid).chat_completion is not None}
    assert whole == chat - {"elastic"}
    assert {
        "openai",
        "azureopenai",
        "openai_compatible",
        "anthropic",
        "amazonbedrock",
        "googlevertexai",
    } <= whole


async def test_a_provider_without_the_call_keeps_the_stream(server: FakeServer) -> None:
    openai_testing.serve_scenario(server, ChatScenario("s", text=("Hel", "lo")))
    answer = await run(RuntimeSettings(), streamed_only(connector(server.url)))
    assert answer["choices"][0]["message"]["content"] == "Hello"
    assert [r.json().get("stream") for r in server.requests] == [True]


async def test_an_answer_past_the_body_cap_but_within_the_aggregated_cap_is_whole(server: FakeServer) -> None:
    """A whole answer's body may be as large as the aggregated stream may grow (max_aggregated_bytes,
    every character escaped), not only max_response_bytes: the whole path refuses no answer the
    stream path accepts."""
    text = "é\n" * 3000  # 6,000 characters; JSON-escaped "\n" and UTF-8 "é" make the body larger
    openai_testing.serve_scenario(server, ChatScenario("big", text=(text[:3000], text[3000:])))
    settings = RuntimeSettings(max_response_bytes=1000, max_aggregated_bytes=6000)
    c = connector(server.url)
    whole, streamed = await run(settings, c), await run(settings, streamed_only(c))
    assert len(json.dumps(openai_testing.scenario_body(ChatScenario("big", text=(text,))))) > 6 * 3000
    assert whole["choices"][0]["message"]["content"] == text == streamed["choices"][0]["message"]["content"]
    assert answer_body_cap(6000, 1000) == 1000 + 6 * 6000


async def test_an_answer_past_the_aggregated_cap_fails_the_same_either_way(server: FakeServer) -> None:
    openai_testing.serve_scenario(server, ChatScenario("too big", text=("x" * 4000, "y" * 4000)))
    settings = RuntimeSettings(max_response_bytes=1000, max_aggregated_bytes=6000)
    c = connector(server.url)
    whole, streamed = await run(settings, c), await run(settings, streamed_only(c))
    assert isinstance(whole, ResponseTooLargeError) and isinstance(streamed, ResponseTooLargeError)
    assert whole.message == streamed.message and "max_aggregated_bytes" in whole.message


async def test_a_body_past_even_the_whole_answer_cap_is_refused_as_the_aggregate(server: FakeServer) -> None:
    """A body past `answer_body_cap` is not read further; the error names the limit to raise (the
    aggregate's, from which the body cap is derived), as the stream path's does."""
    server.add("POST", "/v1/chat/completions", FakeResponse.json({"pad": "x" * 9000}))
    settings = RuntimeSettings(max_response_bytes=1000, max_aggregated_bytes=1000)
    assert answer_body_cap(1000, 1000) < 9000
    result = await run(settings, connector(server.url))
    assert isinstance(result, ResponseTooLargeError) and "max_aggregated_bytes" in result.message
    assert "1000 characters" in result.message


async def test_a_slow_whole_answer_has_no_idle_clock(server: FakeServer) -> None:
    """A whole answer arrives only at its end: the stream's idle clock (no event for
    `stream_idle_timeout`) does not apply to it; the call's deadline does (next test)."""
    body = json.dumps(openai_testing.scenario_body(ChatScenario("slow", text=("late",))))
    server.add(
        "POST",
        "/v1/chat/completions",
        FakeResponse(
            chunks=[body[:10], body[10:20], body[20:]], chunk_delay=0.3, content_type="application/json"
        ),
    )
    answer = await run(RuntimeSettings(stream_idle_timeout=0.05, timeout=30), connector(server.url))
    assert answer["choices"][0]["message"]["content"] == "late"


async def test_a_whole_answer_past_the_call_deadline_times_out_like_the_stream(server: FakeServer) -> None:
    """Both paths of a non-streamed `unified_completion` are bounded by the call's `timeout` in all."""
    body = json.dumps(openai_testing.scenario_body(ChatScenario("slow", text=("late",))))
    events = openai_testing.scenario_events(ChatScenario("slow", text=("late",)))
    server.add(
        "POST",
        "/v1/chat/completions",
        lambda r: (
            FakeResponse(chunks=events, chunk_delay=1.5, content_type="text/event-stream")
            if r.json().get("stream")
            else FakeResponse(chunks=[body[:10], body[10:]], chunk_delay=1.5, content_type="application/json")
        ),
    )
    c = connector(server.url)
    settings = RuntimeSettings(timeout=0.3, max_attempts=1)
    whole, streamed = await run(settings, c), await run(settings, streamed_only(c))
    assert isinstance(whole, ProviderError) and whole.kind is FailureKind.TIMEOUT
    assert isinstance(streamed, ProviderError) and streamed.kind is FailureKind.TIMEOUT


async def test_a_200_carrying_an_error_fails_as_the_streams_error_event(server: FakeServer) -> None:
    error = openai_testing.error_body(
        "The server had an error processing your request.", "server_error", None
    )
    server.add("POST", "/v1/chat/completions", FakeResponse.json(error))
    result = await run(RuntimeSettings(), connector(server.url))
    assert isinstance(result, ProviderError) and result.kind is FailureKind.PROVIDER_ERROR
    assert not result.retryable and "The server had an error processing your request." in result.message
    assert len(server.requests) == 1


async def test_a_malformed_whole_answer_is_an_invalid_response(server: FakeServer) -> None:
    server.add("POST", "/v1/chat/completions", openai_testing.malformed_json_response())
    result = await run(RuntimeSettings(), connector(server.url))
    assert isinstance(result, ProviderError) and result.kind is FailureKind.INVALID_RESPONSE
    server.reset(routes=True)
    server.add("POST", "/v1/chat/completions", FakeResponse.json({"id": "x", "choices": "nope"}))
    result = await run(RuntimeSettings(), connector(server.url))
    assert isinstance(result, ProviderError) and result.kind is FailureKind.INVALID_RESPONSE


async def test_a_spent_quota_is_not_retried_and_a_5xx_is(server: FakeServer) -> None:
    openai_testing.serve_scenario(server, ChatScenario("s", text=("ok",)))
    server.queue(openai_testing.insufficient_quota_response())
    result = await run(RuntimeSettings(max_attempts=3), connector(server.url))
    assert isinstance(result, ProviderError) and result.kind is FailureKind.RATE_LIMITED
    assert len(server.requests) == 1
    server.reset()
    server.queue(openai_testing.server_error_response(), times=2)
    answer = await run(RuntimeSettings(max_attempts=3), connector(server.url))
    assert answer["choices"][0]["message"]["content"] == "ok" and len(server.requests) == 3


def test_a_provider_file_or_kit_provider_may_keep_the_stream() -> None:
    """`whole_chat = false` (a provider file's key, `OpenAICompatible`'s field) keeps the stream for a
    server whose whole answer differs; the default asks for the whole answer."""
    from ai_connector.provider_files import parse_provider

    text = "id = 'acme'\nname = 'Acme'\nkind = 'openai'\nbase_url = 'https://acme.example/v1'\n"
    assert parse_provider(text, "acme.toml").chat_completion is not None
    assert parse_provider(text + "whole_chat = false\n", "acme.toml").chat_completion is None
