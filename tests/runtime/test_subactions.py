"""Every Kibana sub-action, run through the fake provider over real HTTP, answers in Kibana's shape;
bad params and unsupported sub-actions are clear errors before any request is sent."""

from __future__ import annotations

import pytest
from runtime_fakes import API_KEY, chunk, hello_params, hello_stream, make_connector, sse, usage_chunk

from ai_connector.errors import ConfigValidationError, UnsupportedTaskError
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import Runtime, default_sub_action
from ai_connector.testing import FakeResponse, FakeServer


async def test_unified_completion_answers_one_chat_completion(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("Hello", " there", "!"))
    connector = make_connector(registry, server.url)
    answer = await runtime.execute(connector, "unified_completion", hello_params())
    assert answer["id"] == "chatcmpl-upstream"
    assert isinstance(answer["created"], int)
    assert answer == {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": answer["created"],
        "model": "fake-model-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"completion_tokens": 12, "prompt_tokens": 9, "total_tokens": 21},
    }
    sent = server.last.json()
    assert sent["messages"] == [{"role": "user", "content": "Hello world"}]
    assert sent["model"] == "fake-model-1"
    assert server.last.headers["authorization"] == f"Bearer {API_KEY}"


async def test_unified_completion_drops_n_and_passes_tools_through(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("ok"))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    params = hello_params(
        n=3,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=50,
        temperature=0.2,
        stop="END",
        model="other-model",
    )
    await runtime.execute(make_connector(registry, server.url), "unified_completion", params)
    sent = server.last.json()
    assert "n" not in sent
    assert sent["tools"] == tools
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert (sent["max_tokens"], sent["temperature"], sent["stop"], sent["model"]) == (
        50,
        0.2,
        ["END"],
        "other-model",
    )


async def test_stream_yields_openai_chunks_with_one_id(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    upstream = [chunk(role="assistant", content=""), chunk("Hi"), chunk(finish_reason="stop"), usage_chunk()]
    for c in upstream:
        c.pop("id")  # a provider without chunk ids: the runtime gives the stream its own
    server.add("POST", "/chat", FakeResponse(chunks=sse(*upstream), content_type="text/event-stream"))
    connector = make_connector(registry, server.url)
    chunks = [c async for c in runtime.stream(connector, hello_params())]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "fake-model-1" for c in chunks)
    assert [c["choices"] for c in chunks] == [
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
        [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        [],
    ]
    assert chunks[-1]["usage"] == {"completion_tokens": 12, "prompt_tokens": 9, "total_tokens": 21}


async def test_execute_of_the_stream_sub_action_returns_the_stream(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("a", "b"))
    stream = await runtime.execute(
        make_connector(registry, server.url), "unified_completion_stream", hello_params()
    )
    text = "".join([c["choices"][0]["delta"].get("content", "") async for c in stream if c["choices"]])
    assert text == "ab"


async def test_completion_answers_results(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST", "/completion", FakeResponse.json({"completion": [{"result": "Elastic is a company."}]})
    )
    connector = make_connector(registry, server.url, "completion")
    answer = await runtime.execute(connector, "completion", {"input": "What is Elastic?"})
    assert answer == [{"result": "Elastic is a company."}]
    assert server.last.json() == {"input": "What is Elastic?"}


async def test_text_embedding_answers_embeddings_and_sends_the_input_type(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/embed", FakeResponse.json({"text_embedding": [{"embedding": [0.1, -0.2, 0.3]}]}))
    connector = make_connector(registry, server.url, "text_embedding")
    answer = await runtime.execute(connector, "text_embedding", {"input": "The sky", "inputType": "ingest"})
    assert answer == [{"embedding": [0.1, -0.2, 0.3]}]
    assert server.last.json() == {"input": ["The sky"], "input_type": "ingest"}


async def test_sparse_embedding_passes_token_weights_through(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    weights = [{"port": 2.12, "sky": 1.7}]
    server.add("POST", "/sparse", FakeResponse.json({"sparse_embedding": weights}))
    connector = make_connector(registry, server.url, "sparse_embedding")
    answer = await runtime.execute(connector, "sparse_embedding", {"input": "The sky"})
    assert answer == [{"is_truncated": False, "embedding": weights[0]}]  # Elasticsearch's shape


async def test_rerank_renames_relevance_score_to_score(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST",
        "/rerank",
        FakeResponse.json(
            {
                "rerank": [
                    {"index": 2, "relevance_score": 0.9, "text": "leia"},
                    {"index": 0, "relevance_score": 0.1},
                ]
            }
        ),
    )
    connector = make_connector(registry, server.url, "rerank")
    answer = await runtime.execute(
        connector, "rerank", {"input": ["luke", "like", "leia"], "query": "star wars"}
    )
    assert answer == [{"index": 2, "score": 0.9, "text": "leia"}, {"index": 0, "score": 0.1}]


async def test_bad_params_list_every_problem_and_send_nothing(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    connector = make_connector(registry, server.url)
    with pytest.raises(ConfigValidationError) as info:
        await runtime.execute(
            connector, "unified_completion", {"body": {"messages": [], "max_tokens": "many", "extra": 1}}
        )
    errors = {e.path: e.message for e in info.value.errors}
    assert errors["body.messages"] == "Messages must have at least 1 item(s)"
    assert errors["body.max_tokens"] == "Max tokens must be an integer"
    assert errors["body.extra"].startswith("'extra' is not a known field here")
    assert str(info.value).startswith("invalid unified_completion params: ")

    rerank = make_connector(registry, server.url, "rerank")
    with pytest.raises(ConfigValidationError) as info:
        await runtime.execute(rerank, "rerank", {"input": "luke"})
    assert {e.path: e.message for e in info.value.errors} == {
        "input": "Input must be a list",
        "query": "Query is required",
    }
    assert server.requests == []


async def test_stream_params_are_validated_too(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    with pytest.raises(ConfigValidationError, match="Body is required"):
        async for _ in runtime.stream(make_connector(registry, server.url), {}):
            pass
    assert server.requests == []


async def test_a_sub_action_of_another_task_type_is_refused_clearly(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    chat = make_connector(registry, server.url)
    with pytest.raises(UnsupportedTaskError) as info:
        await runtime.execute(chat, "text_embedding", {"input": "x", "inputType": "ingest"})
    message = str(info.value)
    assert '"text_embedding"' in message and "chat_completion" in message and "fakellm" in message
    assert 'Use sub-action "unified_completion"' in message
    with pytest.raises(UnsupportedTaskError, match='Sub action "summon" is not registered'):
        await runtime.execute(chat, "summon", {})
    embed = make_connector(registry, server.url, "text_embedding", provider="fakeembed")
    with pytest.raises(
        UnsupportedTaskError, match=r"needs a chat_completion connector.*task type is text_embedding"
    ):
        async for _ in runtime.stream(embed, hello_params()):
            pass
    assert server.requests == []


def test_default_sub_action_is_kibanas_test_choice() -> None:
    assert default_sub_action("chat_completion") == "unified_completion"
    assert default_sub_action("rerank") == "rerank"
