"""`POST /v1/chat/completions` through `serve`, called with the official `openai` SDK: every
provider's connector answers in OpenAI's shapes (checked against OpenAI's published schemas),
plain and streamed, sync and async, with tools."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai_route_helpers import CANARY, CHAT_PROVIDERS, PIECES, READ_KEY, Serve, check_schema

from ai_connector.testing import FakeServer

USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
HELLO = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def client(serve: Serve, key: str = READ_KEY) -> openai.OpenAI:
    # A `read` key: Read may run connectors (as on `_execute`); no retries, so each answer is seen.
    return openai.OpenAI(base_url=serve.base_url, api_key=key, max_retries=0, timeout=60)


@pytest.mark.parametrize("provider_id", CHAT_PROVIDERS)
def test_a_chat_completion_from_every_provider_is_openais_object(serve: Serve, provider_id: str) -> None:
    raw = client(serve).chat.completions.with_raw_response.create(model=f"chat-{provider_id}", messages=HELLO)
    body = raw.http_response.json()
    check_schema("CreateChatCompletionResponse", body)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "".join(PIECES)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.model_dump(exclude_none=True) == USAGE
    assert completion.id and completion.created > 0 and completion.model
    assert CANARY not in raw.http_response.text


@pytest.mark.parametrize("provider_id", CHAT_PROVIDERS)
def test_a_streamed_chat_from_every_provider_is_openais_chunks_with_usage_last(
    serve: Serve, provider_id: str
) -> None:
    stream = client(serve).chat.completions.create(
        model=f"chat-{provider_id}", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk.to_dict() for chunk in stream]
    for chunk in chunks:
        check_schema("CreateChatCompletionStreamResponse", chunk)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "".join(PIECES)
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [f for f in finishes if f is not None] == ["stop"]
    # include_usage: one last chunk with `choices: []` and the usage (none on the others: the schema
    # types `usage` as an object, not null)
    assert all("usage" not in c for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1


def test_a_stream_without_include_usage_carries_no_usage(serve: Serve) -> None:
    stream = client(serve).chat.completions.create(model="chat-anthropic", messages=HELLO, stream=True)
    chunks = [chunk.to_dict() for chunk in stream]
    assert chunks and all("usage" not in c and c["choices"] for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "".join(PIECES)


@pytest.mark.parametrize("provider_id", ["openai", "amazonbedrock"])
async def test_the_async_client_gets_the_same_answers(serve: Serve, provider_id: str) -> None:
    async with openai.AsyncOpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0) as aclient:
        completion = await aclient.chat.completions.create(model=f"chat-{provider_id}", messages=HELLO)
        stream = await aclient.chat.completions.create(
            model=f"chat-{provider_id}", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert completion.choices[0].message.content == "".join(PIECES)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(PIECES)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12


def test_model_may_name_the_connectors_inference_id(serve: Serve) -> None:
    completion = client(serve).chat.completions.create(
        model="elastic-chat_completion-endpoint", messages=HELLO
    )
    assert completion.choices[0].message.content == "".join(PIECES)


def test_openai_message_shapes_reach_the_provider_as_the_unified_api_carries_them(
    serve: Serve, fake: FakeServer
) -> None:
    client(serve).chat.completions.create(
        model="chat-openai",
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Say "}, {"type": "text", "text": "hello"}],
            },
        ],
        max_completion_tokens=40,
        temperature=0.2,
        top_p=0.9,
        stop=["\n\n"],
    )
    sent = next(r for r in reversed(fake.requests) if r.path == "/v1/chat/completions").json()
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]
    assert sent.get("max_tokens") == 40 or sent.get("max_completion_tokens") == 40, sent
    assert sent["temperature"] == 0.2 and sent["top_p"] == 0.9 and sent["stop"] == ["\n\n"]
    assert sent["model"] == "gpt-4o-mini"  # the connector's model, not the OpenAI `model` (the connector)


# ---------------------------------------------------------------------------------------------
# Tools: the same request against four providers gives the same tool call


def _tool_answer(provider_id: str, fake: FakeServer) -> None:
    """Make `provider_id`'s fake answer with a get_weather({"city": "Paris"}) call, in its own wire."""
    fragments = ['{"city": ', '"Paris"}']
    if provider_id == "openai":
        from ai_connector_openai import testing

        call = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
        events = [testing.chat_chunk({"role": "assistant", "content": None, "tool_calls": [call]})]
        events += [
            testing.chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": f}}]})
            for f in fragments
        ]
        events.append(testing.chat_chunk({}, "tool_calls"))
        events.append(
            {
                **testing.chat_chunk({}),
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            }
        )
        fake.add("POST", "/v1/chat/completions", testing.stream_response(testing.sse([*events, "[DONE]"])))
    elif provider_id == "anthropic":
        from ai_connector_anthropic import testing

        events = testing.stream_events(
            [], stop_reason="tool_use", tool_calls=[("toolu_1", "get_weather", fragments)]
        )
        fake.add("POST", "/v1/messages", testing.stream_response(events))
    elif provider_id == "amazonbedrock":
        from ai_connector_amazonbedrock import testing

        bedrock = testing.FakeBedrock(fake)
        bedrock.pieces = ()
        bedrock.tool_calls = [("tooluse_1", "get_weather", fragments)]
        bedrock.stop_reason = "tool_use"
    else:
        from ai_connector_gemini.testing import generate_response, sse, usage_metadata
        from ai_connector_googlevertexai import testing

        answer = generate_response(
            function_calls=[{"name": "get_weather", "args": {"city": "Paris"}}],
            finish_reason="STOP",
            usage=usage_metadata(5, 7),
        )
        testing.FakeVertexAI(fake).serve_stream_chunks(sse([answer]))


def _tool_request(provider_id: str, fake: FakeServer) -> dict[str, Any]:
    """The body the provider's fake received (its own wire format)."""
    for request in reversed(fake.requests):
        if request.method == "POST" and "token" not in request.path and request.body:
            return request.json()
    raise AssertionError(f"{provider_id}: no request reached the fake")


TOOL_PROVIDERS = ["openai", "anthropic", "amazonbedrock", "googlevertexai"]


@pytest.mark.parametrize("provider_id", TOOL_PROVIDERS)
def test_a_chat_with_tools_works_the_same_against_each_provider(
    serve: Serve, fake: FakeServer, provider_id: str
) -> None:
    _tool_answer(provider_id, fake)
    raw = client(serve).chat.completions.with_raw_response.create(
        model=f"chat-{provider_id}",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    check_schema("CreateChatCompletionResponse", raw.http_response.json())
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert "get_weather" in json.dumps(_tool_request(provider_id, fake))  # the tool reached the provider


def test_a_tool_result_round_trip_reaches_the_provider(serve: Serve, fake: FakeServer) -> None:
    client(serve).chat.completions.create(
        model="chat-anthropic",
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C and sunny"},
        ],
        tools=[WEATHER_TOOL],
    )
    sent = _tool_request("anthropic", fake)
    blocks = [b for m in sent["messages"] if isinstance(m["content"], list) for b in m["content"]]
    assert {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}} in blocks
    assert any(b.get("type") == "tool_result" and b.get("tool_use_id") == "toolu_1" for b in blocks)


def test_a_streamed_tool_call_arrives_as_openai_tool_call_chunks(serve: Serve, fake: FakeServer) -> None:
    _tool_answer("amazonbedrock", fake)
    stream = client(serve).chat.completions.create(
        model="chat-amazonbedrock", messages=HELLO, tools=[WEATHER_TOOL], stream=True
    )
    chunks = [chunk.to_dict() for chunk in stream]
    for chunk in chunks:
        check_schema("CreateChatCompletionStreamResponse", chunk)
    deltas = [t for c in chunks for t in c["choices"][0]["delta"].get("tool_calls", [])]
    assert deltas[0]["id"] and deltas[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(d.get("function", {}).get("arguments", "") for d in deltas)) == {
        "city": "Paris"
    }
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == [
        "tool_calls"
    ]


# ---------------------------------------------------------------------------------------------
# Refusals and the aggregated answers' fields, on the aggregators themselves (no server needed)

REFUSAL = "I'm sorry, I can't help with that."


def _refusal_chunks() -> list[Any]:
    from ai_connector.types import ChatChunk, Usage

    return [
        ChatChunk(role="assistant", id="chatcmpl-r", model="gpt-4o"),
        ChatChunk(refusal="I'm sorry, "),
        ChatChunk(refusal="I can't help with that."),
        ChatChunk(finish_reason="stop"),
        ChatChunk(usage=Usage(prompt_tokens=5, completion_tokens=7)),
    ]


def test_a_refusal_is_a_refusal_delta_and_the_builders_message_refusal() -> None:
    from ai_connector.api.openai.render import ChatCompletionBuilder

    rendered = [c.to_openai(id="chatcmpl-r", model="gpt-4o", created=1) for c in _refusal_chunks()]
    for chunk in rendered:
        check_schema("CreateChatCompletionStreamResponse", chunk)
    assert "".join(c["choices"][0]["delta"].get("refusal", "") for c in rendered if c["choices"]) == REFUSAL
    builder = ChatCompletionBuilder("gpt-4o")
    for chunk in rendered:
        builder.add(chunk)
    answer = builder.result()
    check_schema("CreateChatCompletionResponse", answer)
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": None, "refusal": REFUSAL}


def _aggregate(chunks: list[Any]) -> dict[str, Any]:
    from ai_connector.runtime.aggregate import ChatAggregator

    aggregator = ChatAggregator(id="chatcmpl-x", model="fake-model", created=1700000000)
    for chunk in chunks:
        aggregator.add(chunk)
    return aggregator.result()


def test_kibanas_aggregated_answers_are_valid_chat_completions() -> None:
    # `unified_completion` (runtime/aggregate.py) answers every shape with the fields OpenAI's
    # CreateChatCompletionResponse requires: choices[].index/message/finish_reason/logprobs.
    from ai_connector.types import ChatChunk, ToolCallDelta, Usage

    text = [ChatChunk(role="assistant"), ChatChunk(content="Hi"), ChatChunk(finish_reason="stop")]
    tools = [
        ChatChunk(role="assistant"),
        ChatChunk(tool_calls=(ToolCallDelta(index=0, id="call_1", name="get_weather", arguments=""),)),
        ChatChunk(finish_reason="tool_calls"),
        ChatChunk(usage=Usage(prompt_tokens=3, completion_tokens=4)),
    ]
    unfinished = [ChatChunk(role="assistant"), ChatChunk(content="cut")]  # no finish chunk came
    for chunks in (text, tools, unfinished, _refusal_chunks()):
        answer = _aggregate(chunks)
        check_schema("CreateChatCompletionResponse", answer)
        assert set(answer["choices"][0]) >= {"index", "message", "finish_reason", "logprobs"}
    assert _aggregate(unfinished)["choices"][0]["finish_reason"] == "stop"
    assert _aggregate(tools)["choices"][0]["finish_reason"] == "tool_calls"
    assert _aggregate(_refusal_chunks())["choices"][0]["message"]["refusal"] == REFUSAL
    assert _aggregate(tools)["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
