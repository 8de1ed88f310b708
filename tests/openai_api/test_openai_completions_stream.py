"""`POST /v1/completions` with `stream: true`, in OpenAI's legacy completions stream format
(`text_completion` chunks, then `data: [DONE]`), read by the official `openai` SDK (sync and async)
and checked chunk by chunk against OpenAI's `CreateCompletionResponse` schema."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai_route_helpers import PIECES, READ_KEY, Serve, check_schema

from ai_connector.testing import FakeResponse, FakeServer


def client(serve: Serve) -> openai.OpenAI:
    return openai.OpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0, timeout=60)


def raw_events(serve: Serve, **body: object) -> httpx.Response:
    return httpx.post(
        serve.base_url + "/completions",
        json={"model": "complete-openai", "prompt": "Say hello", "stream": True, **body},
        headers={"authorization": f"Bearer {READ_KEY}"},
        timeout=60,
    )


def test_the_sdk_reads_the_streamed_completion(serve: Serve) -> None:
    chunks = list(client(serve).completions.create(model="complete-openai", prompt="Say hello", stream=True))
    assert chunks and all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "".join(PIECES)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("cmpl-")


async def test_the_async_sdk_reads_it_too(serve: Serve) -> None:
    async with openai.AsyncOpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0) as aclient:
        stream = await aclient.completions.create(
            model="openai-completion-endpoint", prompt="Say hello", stream=True
        )
        text = "".join([c.choices[0].text async for c in stream if c.choices])
    assert text == "".join(PIECES)


def test_the_wire_is_openais_legacy_stream(serve: Serve) -> None:
    response = raw_events(serve, stream_options={"include_usage": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert chunks and all(e.startswith("data: {") for e in events[:-2])
    for chunk in chunks:
        check_schema("CreateCompletionResponse", chunk)
        assert chunk["object"] == "text_completion" and chunk["model"] == "complete-openai"
    # The completion task reports no usage, so no usage chunk is sent (OpenAI sends it when known).
    assert all("usage" not in chunk for chunk in chunks)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"stream": "yes"}, "stream"),
        ({"stream": False, "stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_bad_stream_flags_are_400(
    serve: Serve, fake: FakeServer, body: dict[str, object], param: str
) -> None:
    response = raw_events(serve, **body)
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert fake.requests == []


def test_a_failure_before_the_answer_keeps_its_status(serve: Serve, fake: FakeServer) -> None:
    """The stream starts only once the task has answered, so an upstream failure is an HTTP error
    the SDK raises at once, not an event inside a 200."""
    fake.add(
        "POST",
        "/v1/chat/completions",
        FakeResponse.json({"error": {"message": "boom", "type": "server_error"}}, 500),
    )
    with pytest.raises(openai.InternalServerError) as caught:
        client(serve).completions.create(model="complete-openai", prompt="Say hello", stream=True)
    assert caught.value.status_code == 502
