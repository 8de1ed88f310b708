"""A non-streamed `unified_completion` asks a provider with a non-streamed chat call for one whole
answer instead of a stream; it must give the caller exactly what the aggregated stream gives.

For every provider with such a call (the OpenAI-compatible kit's providers, anthropic,
amazonbedrock, googlevertexai, watsonxai, amazon_sagemaker) and every scenario of a table (plain
and multi-part text, tool calls, finish reasons, stop sequences, content filters and refusals,
usage present or absent, the vendor's documented odd content), the provider's wire-exact fake
answers the same scenario in both of its vendor's forms; the host's answer through the
non-streamed call and through the stream (the same provider without the call) must be equal field
by field, except the fresh `id`/`created`, which must have the same shape. Errors (401, 429, 5xx
with the vendor's bodies) must come out the same, and a whole answer is retried on 429/5xx until
it arrives.

Tool-call arguments: a vendor whose whole answer carries them as an object (Anthropic, Bedrock,
Gemini) is compared as the same JSON value, since the host re-serialises the object and the stream
relays the model's own text (the same whitespace in these fakes, not promised by the vendors).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from ai_connector.errors import ProviderError
from ai_connector.manager import default_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.runtime.errors import TokenLimitReachedError
from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.scenario import ChatScenario, ScenarioToolCall
from ai_connector.validation import ValidatedConnector, validate_connector

CANARY = "canary-secret-0000"
# Providers whose calls need an access token first (a 401 drops it): a queued answer would meet the
# token exchange, so the token is fetched before each.
TOKENED = ("googlevertexai", "watsonxai")
WEATHER = ScenarioToolCall("call_weather_01", "get_weather", {"city": "Paris", "unit": "celsius"})
TIME = ScenarioToolCall("call_time_02", "get_time", {"zone": "Europe/Paris", "nested": {"a": [1, 2]}})
NOW = ScenarioToolCall("call_now_03", "now", {})

# Every vendor renders these.
COMMON = (
    ChatScenario("plain text", text=("Hello there!",)),
    ChatScenario("multi-part text", text=("Hel", "lo, ", "wor", "ld", "!")),
    ChatScenario("unicode text", text=("Grüße, ", "東京 ", "🌍")),
    ChatScenario("one tool call", tool_calls=(WEATHER,), finish="tool_calls"),
    ChatScenario(
        "text then several tool calls",
        text=("Let me check.",),
        tool_calls=(WEATHER, TIME, NOW),
        finish="tool_calls",
    ),
    ChatScenario("tool call without arguments", tool_calls=(NOW,), finish="tool_calls"),
    ChatScenario("length: the token-limit error", text=("Once upon", " a time"), finish="length"),
    ChatScenario("stop sequence", text=("1, 2, 3",), finish="stop_sequence"),
    ChatScenario("odd content skipped", text=("Sunny.",), odd_blocks=True),
)
CONTENT_FILTER = ChatScenario("content filter", text=("I can",), finish="content_filter")
OPENAI_ONLY = (
    CONTENT_FILTER,
    ChatScenario("refusal", refusal=("I can't ", "help with that."), finish="stop"),
    ChatScenario("usage absent", text=("Hi",), usage=None),
)
ANTHROPIC_ONLY = (
    ChatScenario("refusal stop reason", text=("I can",), finish="content_filter"),
    ChatScenario(
        "pause_turn after a server tool",
        text=("Searching.",),
        odd_blocks=True,
        vendor={"anthropic": {"stop_reason": "pause_turn"}},
    ),
    ChatScenario(
        "context window exceeded",
        text=("Long",),
        vendor={"anthropic": {"stop_reason": "model_context_window_exceeded"}},
    ),
)
BEDROCK_ONLY = (
    ChatScenario("guardrail intervened", text=("Sorry",), finish="content_filter"),
    ChatScenario(
        "content filtered", text=("Sorry",), vendor={"amazonbedrock": {"stopReason": "content_filtered"}}
    ),
    ChatScenario(
        "context window exceeded",
        text=("Long",),
        vendor={"amazonbedrock": {"stopReason": "model_context_window_exceeded"}},
    ),
)
GEMINI_ONLY = (
    ChatScenario("safety stop", text=("I can",), finish="content_filter"),
    ChatScenario(
        "recitation stop",
        text=("Verbatim",),
        vendor={"gemini": {"finishReason": "RECITATION", "finishMessage": "Recited."}},
    ),
    ChatScenario("other stop", text=("Hm",), vendor={"gemini": {"finishReason": "OTHER"}}),
    ChatScenario(
        "blocked prompt",
        vendor={"gemini": {"blockReason": "SAFETY", "blockReasonMessage": "The prompt was blocked."}},
    ),
    ChatScenario("malformed function call", vendor={"gemini": {"finishReason": "MALFORMED_FUNCTION_CALL"}}),
)


def _testing(provider_id: str) -> Any:
    return importlib.import_module(f"ai_connector_{provider_id}.testing")


def _openai_family(
    provider_id: str, *, usage_on_finish: bool = False
) -> Callable[[FakeServer, ChatScenario], None]:
    def serve(server: FakeServer, scenario: ChatScenario) -> None:
        _testing("openai").serve_scenario(
            server, scenario, r".*/chat/completions", usage_on_finish=usage_on_finish
        )

    return serve


def _serve_anthropic(server: FakeServer, scenario: ChatScenario) -> None:
    _testing("anthropic").serve_scenario(server, scenario)


def _serve_bedrock(server: FakeServer, scenario: ChatScenario) -> None:
    _testing("amazonbedrock").FakeBedrock(server).scenario = scenario


def _serve_vertex(server: FakeServer, scenario: ChatScenario) -> None:
    _testing("googlevertexai").FakeVertexAI(server).serve_scenario(scenario)


_WATSONX_TOKENS: set[str] = set()  # the provider caches IAM tokens process-wide: every fake honours them


def _serve_watsonx(server: FakeServer, scenario: ChatScenario) -> None:
    fake = _testing("watsonxai").FakeWatsonx(server, api_key=CANARY)
    fake.tokens, fake.scenario = _WATSONX_TOKENS, scenario


def _serve_sagemaker(server: FakeServer, scenario: ChatScenario) -> None:
    _testing("amazon_sagemaker").FakeSageMaker(server, secret=CANARY).scenario = scenario


def _openai_streams(request: RecordedRequest) -> bool:
    return bool(request.json().get("stream"))


@dataclass(frozen=True)
class Row:
    """One provider: how its fake serves a scenario, how to tell a streamed request, its scenarios,
    whether its whole answer sends tool arguments as the model's text (else as an object)."""

    serve: Callable[[FakeServer, ChatScenario], None]
    streams: Callable[[RecordedRequest], bool]
    scenarios: Sequence[ChatScenario]
    arguments_as_text: bool = True


KIT = (*COMMON, *OPENAI_ONLY)
ROWS: dict[str, Row] = {
    "openai": Row(_openai_family("openai"), _openai_streams, KIT),
    "azureopenai": Row(_openai_family("azureopenai"), _openai_streams, KIT),
    "openai_compatible": Row(_openai_family("openai_compatible"), _openai_streams, KIT),
    "mistral": Row(
        _openai_family("mistral", usage_on_finish=True), _openai_streams, (*COMMON, CONTENT_FILTER)
    ),
    "groq": Row(_openai_family("groq"), _openai_streams, COMMON),
    "deepseek": Row(_openai_family("deepseek"), _openai_streams, COMMON),
    "ai21": Row(_openai_family("ai21"), _openai_streams, COMMON),
    "llama": Row(_openai_family("llama"), _openai_streams, COMMON),
    "nvidia": Row(_openai_family("nvidia"), _openai_streams, COMMON),
    "openshift_ai": Row(_openai_family("openshift_ai"), _openai_streams, COMMON),
    "hugging_face": Row(_openai_family("hugging_face"), _openai_streams, COMMON),
    "watsonxai": Row(_serve_watsonx, lambda r: r.path.endswith("/chat_stream"), (*COMMON, CONTENT_FILTER)),
    "amazon_sagemaker": Row(_serve_sagemaker, lambda r: r.path.endswith("-response-stream"), KIT),
    "anthropic": Row(_serve_anthropic, _openai_streams, (*COMMON, *ANTHROPIC_ONLY), arguments_as_text=False),
    "amazonbedrock": Row(
        _serve_bedrock,
        lambda r: r.path.endswith("/converse-stream"),
        (*COMMON, *BEDROCK_ONLY),
        arguments_as_text=False,
    ),
    "googlevertexai": Row(
        _serve_vertex,
        lambda r: ":streamGenerateContent" in r.path,
        (*COMMON, *GEMINI_ONLY),
        arguments_as_text=False,
    ),
}
CASES = [pytest.param(pid, s, id=f"{pid}-{s.name}") for pid, row in ROWS.items() for s in row.scenarios]


def connector_for(provider_id: str, url: str) -> ValidatedConnector:
    if provider_id == "openai_compatible":
        config: dict[str, Any] = {"url": url + "/v1", "model_id": "gpt-4o-mini"}
        secrets: dict[str, Any] = {"api_key": "canary-secret-0000"}
    else:
        config, secrets = _testing(provider_id).connector(url, "chat_completion", secret=CANARY)
    if "rate_limit" in default_registry().get(provider_id).settings_schema["properties"]:
        config["rate_limit"] = {"requests_per_minute": 100_000}
    document = {
        "name": "nonstream",
        "connector_type_id": ".inference",
        "config": {
            "provider": provider_id,
            "taskType": "chat_completion",
            "inferenceId": f"{provider_id}-nonstream",
            "providerConfig": config,
        },
        "secrets": {"providerSecrets": secrets},
    }
    return validate_connector(document, default_registry(), connector_id=f"{provider_id}-nonstream")


def streamed_only(connector: ValidatedConnector) -> ValidatedConnector:
    """The same connector whose provider has no non-streamed chat call: the host reads the stream."""
    return dataclasses.replace(
        connector, provider=dataclasses.replace(connector.provider, chat_completion=None)
    )


PARAMS = {
    "body": {
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "max_tokens": 256,
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
        ],
    }
}


async def outcome(runtime: Runtime, connector: ValidatedConnector) -> Any:
    """The answer, or the error raised, of one non-streamed `unified_completion`."""
    try:
        return await runtime.execute(connector, "unified_completion", PARAMS)
    except ProviderError as exc:
        return exc


def _shape(value: Any) -> str:
    return re.sub(r"[0-9a-zA-Z]", "x", str(value))


def assert_same(whole: Any, streamed: Any, *, arguments_as_text: bool) -> None:
    """Equal field by field; `id` of the same shape, `created` of both a recent time; tool-call
    arguments the same text, or (a vendor that sends an object whole) the same JSON value."""
    if isinstance(streamed, BaseException):
        assert isinstance(whole, BaseException), f"the stream failed ({streamed!r}), the whole answer did not"
        assert type(whole) is type(streamed)
        for field in ("message", "kind", "status", "code", "retryable", "provider_message", "retry_after"):
            assert getattr(whole, field, None) == getattr(streamed, field, None), field
        return
    assert not isinstance(whole, BaseException), f"the whole answer failed ({whole!r}), the stream did not"
    whole, streamed = copy.deepcopy(whole), copy.deepcopy(streamed)
    assert _shape(whole["id"]) == _shape(streamed["id"])
    assert abs(whole["created"] - streamed["created"]) <= 60 and abs(whole["created"] - time.time()) <= 60
    whole_calls = whole["choices"][0]["message"].pop("tool_calls", None)
    streamed_calls = streamed["choices"][0]["message"].pop("tool_calls", None)
    assert {k: v for k, v in whole.items() if k not in ("id", "created")} == {
        k: v for k, v in streamed.items() if k not in ("id", "created")
    }
    assert (whole_calls is None) == (streamed_calls is None)
    for mine, theirs in zip(whole_calls or (), streamed_calls or (), strict=True):
        a, b = mine["function"].pop("arguments"), theirs["function"].pop("arguments")
        assert mine == theirs
        assert (a == b) if arguments_as_text else (json.loads(a) == json.loads(b))


def settings(server: FakeServer, **options: Any) -> RuntimeSettings:
    """The host's settings for these tests: watsonx's IAM is the fake's."""
    iam = {"watsonxai": {"iam_url": f"{server.url}/identity/token"}}
    return RuntimeSettings(provider_settings=iam, **options)


@pytest.fixture
async def runtime(server: FakeServer) -> Any:
    async with Runtime(default_registry(), settings(server, max_attempts=1)) as rt:
        yield rt


@pytest.mark.parametrize(("provider_id", "scenario"), CASES)
async def test_the_whole_answer_is_the_aggregated_stream(
    server: FakeServer, runtime: Runtime, provider_id: str, scenario: ChatScenario
) -> None:
    row = ROWS[provider_id]
    row.serve(server, scenario)
    connector = connector_for(provider_id, server.url)
    assert connector.provider.chat_completion is not None
    whole = await outcome(runtime, connector)
    asked_whole = [r for r in server.requests if not r.path.endswith("/token")]
    streamed = await outcome(runtime, streamed_only(connector))
    asked_stream = [r for r in server.requests if not r.path.endswith("/token")][len(asked_whole) :]
    assert [row.streams(r) for r in asked_whole] == [False]  # one non-streamed request, no stream
    assert [row.streams(r) for r in asked_stream] == [True]
    assert_same(whole, streamed, arguments_as_text=row.arguments_as_text)
    if scenario.finish == "length" and not scenario.vendor:
        assert isinstance(whole, TokenLimitReachedError)  # Kibana's token-limit error, both ways
    elif scenario.tool_calls and not scenario.vendor:
        message = whole["choices"][0]["message"]
        if provider_id != "googlevertexai":  # Gemini's function calls carry no id: the host numbers them
            assert [c["id"] for c in message["tool_calls"]] == [c.id for c in scenario.tool_calls]
        assert [json.loads(c["function"]["arguments"]) for c in message["tool_calls"]] == [
            c.arguments for c in scenario.tool_calls
        ]


def _errors(provider_id: str) -> dict[int, FakeResponse]:
    """The vendor's own 401, 429 and 5xx answers (status, headers, body)."""
    if provider_id == "anthropic":
        testing = _testing("anthropic")
        return {s: testing.error_response(s, retry_after=0 if s == 429 else None) for s in (401, 429, 529)}
    if provider_id == "amazonbedrock":
        testing = _testing("amazonbedrock")
        return {
            403: testing.unrecognized_client(),
            429: testing.throttled(),
            500: testing.internal_server_error(),
        }
    if provider_id == "googlevertexai":
        testing = _testing("googlevertexai")
        return {
            401: FakeResponse.json(testing.unauthenticated(), 401),
            429: FakeResponse.json(testing.resource_exhausted(), 429),
            500: FakeResponse.json(testing.internal_error(), 500),
        }
    if provider_id == "watsonxai":
        wx = _testing("watsonxai").watsonx_error
        return {
            401: wx(
                401,
                "authentication_token_not_valid",
                "Failed to authenticate the request due to invalid token",
            ),
            429: wx(429, "too_many_requests", "Too many requests, please retry later"),
            500: wx(500, "internal_error", "Internal server error"),
        }
    testing = _testing("openai")
    return {
        401: testing.invalid_api_key_response("sk-wrong-key-0000000000000000"),
        429: testing.rate_limit_response(retry_after="0"),
        500: testing.server_error_response(),
    }


ERROR_CASES = [
    pytest.param(pid, status, id=f"{pid}-{status}")
    for pid in (
        "openai",
        "azureopenai",
        "mistral",
        "anthropic",
        "amazonbedrock",
        "googlevertexai",
        "watsonxai",
    )
    for status in _errors(pid)
]


@pytest.mark.parametrize(("provider_id", "status"), ERROR_CASES)
async def test_errors_are_the_same_either_way(
    server: FakeServer, runtime: Runtime, provider_id: str, status: int
) -> None:
    ROWS[provider_id].serve(server, COMMON[0])
    connector = connector_for(provider_id, server.url)
    failures = []
    for each in (connector, streamed_only(connector)):
        if provider_id in TOKENED:
            await runtime.test(each)  # a token first (a 401 drops it), so the queued answer meets the call
        server.queue(_errors(provider_id)[status])
        failures.append(await outcome(runtime, each))
    whole, streamed = failures
    assert isinstance(whole, ProviderError) and whole.status == status
    assert_same(whole, streamed, arguments_as_text=True)


@pytest.mark.parametrize(
    "provider_id", ["openai", "anthropic", "amazonbedrock", "googlevertexai", "watsonxai"]
)
async def test_a_failed_whole_answer_is_retried_until_it_arrives(
    server: FakeServer, provider_id: str
) -> None:
    """Unlike a stream (retried only until its first chunk), a whole answer is retried on 429/5xx
    until it arrives, within the attempts and the deadline."""
    ROWS[provider_id].serve(server, COMMON[1])
    connector = connector_for(provider_id, server.url)
    errors = _errors(provider_id)
    async with Runtime(default_registry(), settings(server, max_attempts=3), random=lambda: 0.0) as runtime:
        if provider_id in TOKENED:
            await runtime.test(connector)
        server.reset()
        for status in sorted(errors)[1:]:  # the retryable ones: 429 and a 5xx
            server.queue(errors[status])
        answer = await runtime.execute(connector, "unified_completion", PARAMS)
    assert answer["choices"][0]["message"]["content"] == "Hello, world!"
    calls = [r for r in server.requests if not r.path.endswith("/token")]
    assert len(calls) == 3 and not any(ROWS[provider_id].streams(r) for r in calls)
