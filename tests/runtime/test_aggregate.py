"""`unified_completion` aggregates the stream exactly as Kibana's chunksIntoMessage does: content
concatenated, tool calls joined by index, usage from the usage chunk, empty content -> null, empty
arguments -> "{}", `finish_reason: length` -> the token-limit error, error events -> errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_fakes import API_KEY, chunk, hello_params, make_connector, sse, usage_chunk

from ai_connector.errors import StreamInterruptedError
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import Runtime, TokenLimitReachedError
from ai_connector.runtime.aggregate import ChatAggregator
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import ChatChunk, ToolCallDelta, Usage


def stream_of(*objs: object, done: bool = True, abort_after: int | None = None) -> FakeResponse:
    return FakeResponse(
        chunks=sse(*objs, done=done), content_type="text/event-stream", abort_after=abort_after
    )


async def test_tool_calls_split_over_chunks_are_joined_by_index(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    def call(index: int, id: str | None = None, name: str | None = None, args: str | None = None) -> dict:
        fn = {k: v for k, v in (("name", name), ("arguments", args)) if v is not None}
        out: dict = {"index": index, "function": fn}
        if id:
            out.update(id=id, type="function")
        return out

    server.add(
        "POST",
        "/chat",
        stream_of(
            chunk(role="assistant"),
            chunk(tool_calls=[call(0, "call_a", "get_", "")]),
            chunk(tool_calls=[call(0, name="weather", args='{"city":')]),
            chunk(tool_calls=[call(1, "call_b", "get_time")]),
            chunk(tool_calls=[call(0, args=' "Paris"}')]),
            chunk(finish_reason="tool_calls"),
            usage_chunk(20, 7),
        ),
    )
    answer = await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert answer["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert answer["usage"] == {"completion_tokens": 7, "prompt_tokens": 20, "total_tokens": 27}


async def test_no_usage_chunk_means_no_usage(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", stream_of(chunk("hi", role="assistant"), chunk(finish_reason="stop")))
    answer = await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert "usage" not in answer
    assert answer["choices"][0]["message"]["content"] == "hi"


async def test_empty_content_becomes_null(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST", "/chat", stream_of(chunk("", role="assistant"), chunk(finish_reason="stop"), usage_chunk())
    )
    answer = await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": None, "refusal": None}


async def test_length_finish_is_the_token_limit_error(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST",
        "/chat",
        stream_of(
            chunk("Once upon", role="assistant"), chunk(" a time", finish_reason="length"), usage_chunk(9, 5)
        ),
    )
    with pytest.raises(TokenLimitReachedError) as info:
        await runtime.execute(
            make_connector(registry, server.url), "unified_completion", hello_params(max_tokens=5)
        )
    assert (
        str(info.value) == "Token limit reached. Token limit is 5, but the current conversation has 5 tokens."
    )
    assert (info.value.token_limit, info.value.token_count, info.value.retryable) == (5, 5, False)
    assert len(server.requests) == 1


async def test_length_without_figures_still_says_token_limit_reached() -> None:
    agg = ChatAggregator(id="x", model="m", created=0)
    agg.add(ChatChunk(content="a", finish_reason="length"))
    with pytest.raises(TokenLimitReachedError, match=r"^Token limit reached$"):
        agg.result()


async def test_mid_stream_error_event_fails_the_call_redacted(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST",
        "/chat",
        stream_of(
            chunk("partial", role="assistant"),
            {
                "error": {
                    "code": "stream_error",
                    "message": f"upstream refused key {API_KEY}",
                    "type": "error",
                }
            },
        ),
    )
    with pytest.raises(StreamInterruptedError) as info:
        await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert "upstream refused key" in str(info.value)
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)
    assert info.value.__context__ is None  # the unredacted original is not chained
    assert len(server.requests) == 1  # never retried once the stream started


async def test_mid_stream_error_in_a_stream_is_raised_from_the_iterator(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST", "/chat", stream_of(chunk("a", role="assistant"), chunk("b"), abort_after=1, done=False)
    )
    got = []
    with pytest.raises(StreamInterruptedError):
        async for c in runtime.stream(make_connector(registry, server.url), hello_params()):
            got.append(c)
    assert [c["choices"][0]["delta"]["content"] for c in got] == ["a"]
    assert len(server.requests) == 1


def _refusing_stream() -> FakeResponse:
    """OpenAI's shape of a refusal: `delta.refusal` pieces with `content: null`, then `stop`."""
    role = chunk(role="assistant")
    role["choices"][0]["delta"].update(content=None, refusal="")
    pieces = []
    for piece in ("I'm sorry, ", "I can't help with that."):
        c = chunk()
        c["choices"][0]["delta"]["refusal"] = piece
        pieces.append(c)
    return stream_of(role, *pieces, chunk(finish_reason="stop"), usage_chunk())


async def test_a_refusal_reaches_the_caller_aggregated(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", _refusing_stream())
    answer = await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert answer["choices"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": "I'm sorry, I can't help with that.",
    }


async def test_a_refusal_reaches_the_caller_streamed(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", _refusing_stream())
    deltas = [
        c["choices"][0]["delta"]
        async for c in runtime.stream(make_connector(registry, server.url), hello_params())
        if c["choices"]
    ]
    assert "".join(d.get("refusal") or "" for d in deltas) == "I'm sorry, I can't help with that."
    assert all(d.get("content") is None for d in deltas)


# -- the aggregator on its own, with Hypothesis ------------------------------------------------------


def _splits(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(text[last:p])
        last = p
    out.append(text[last:])
    return out


@settings(max_examples=150, deadline=None)
@given(
    content=st.text(max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
    calls=st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8), st.text(max_size=20), st.lists(st.integers(0, 30), max_size=4)
        ),
        max_size=3,
    ),
    with_usage=st.booleans(),
)
def test_any_split_of_the_same_answer_aggregates_to_the_same_message(
    content: str, cuts: list[int], calls: list[tuple[str, str, list[int]]], with_usage: bool
) -> None:
    chunks = [ChatChunk(role="assistant")]
    chunks += [ChatChunk(content=piece) for piece in _splits(content, cuts)]
    for index, (name, args, arg_cuts) in enumerate(calls):
        chunks.append(ChatChunk(tool_calls=(ToolCallDelta(index=index, id=f"call_{index}", name=name),)))
        chunks += [
            ChatChunk(tool_calls=(ToolCallDelta(index=index, arguments=p),)) for p in _splits(args, arg_cuts)
        ]
    chunks.append(ChatChunk(finish_reason="tool_calls" if calls else "stop"))
    if with_usage:
        chunks.append(ChatChunk(usage=Usage(prompt_tokens=3, completion_tokens=4)))

    agg = ChatAggregator(id="chatcmpl-1", model="m", created=7)
    for c in chunks:
        agg.add(c)
    result = agg.result()
    message = result["choices"][0]["message"]
    assert message["content"] == (content or None)
    expected_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": n, "arguments": a if a.strip() else "{}"},
        }
        for i, (n, a, _) in enumerate(calls)
    ]
    assert message.get("tool_calls", []) == expected_calls
    assert result["object"] == "chat.completion"
    assert ("usage" in result) is with_usage


def test_tool_call_pieces_may_arrive_interleaved_and_out_of_order() -> None:
    agg = ChatAggregator(id="x", model="m", created=0)
    agg.add(ChatChunk(tool_calls=(ToolCallDelta(index=1, id="b", name="two", arguments="{"),)))
    agg.add(ChatChunk(tool_calls=(ToolCallDelta(index=0, id="a", name="one"),)))
    agg.add(ChatChunk(tool_calls=(ToolCallDelta(index=1, arguments="}"),)))
    calls = agg.result()["choices"][0]["message"]["tool_calls"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("a", "one", "{}"),
        ("b", "two", "{}"),
    ]


def test_a_chunk_with_deltas_and_usage_keeps_both() -> None:
    agg = ChatAggregator(id="x", model="m", created=0)
    agg.add(
        ChatChunk(
            content="last words", finish_reason="stop", usage=Usage(prompt_tokens=1, completion_tokens=2)
        )
    )
    result = agg.result()
    assert result["choices"][0]["message"]["content"] == "last words"
    assert result["usage"] == {"completion_tokens": 2, "prompt_tokens": 1, "total_tokens": 3}
