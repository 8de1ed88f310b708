"""The end of an SSE body (core/ai_connector/sse.py): an event whose lines arrived whole but which no
blank line followed is dispatched at the end of the stream; a last line with no line end is not.

WHATWG HTML, "Interpreting an event stream", discards both ("Once the end of the file is reached, any
pending data must be discarded"); the module docstring says why the host keeps the first. Checked
here on the kit's streams: the OpenAI-compatible kit (its `[DONE]`) and Anthropic's events, including
the transcripts Anthropic publishes (/work/shared/wire-samples/streams/), which end with one line end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_helpers import fake_connector

from ai_connector.errors import StreamInterruptedError
from ai_connector.manager import default_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.sse import SSEDecoder, iter_sse_text
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.fakes import ProviderFake, provider_fake
from ai_connector_openai import testing as openai_testing

SAMPLES = Path("/work/shared/wire-samples/streams")
CHAT = {"body": {"messages": [{"role": "user", "content": "Hi"}]}}


def sample(name: str) -> str:
    """A transcript without its provenance comment lines, byte for byte otherwise."""
    lines = (SAMPLES / name).read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith(":"))


# -- the decoder --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dispatched"),
    [
        ("data: [DONE]\n", ["[DONE]"]),  # the blank line missing: dispatched
        ("data: [DONE]\r\n", ["[DONE]"]),
        ("data: [DONE]\r", ["[DONE]"]),  # a CR held back as maybe half a CRLF still ended the line
        ("data: a\ndata: b\n", ["a\nb"]),
        ("data: [DONE]", []),  # no line end at all: maybe cut short, discarded as the spec says
        ('data: {"a": 1}\ndata: {"b"', []),  # the event's last line is cut: the whole event goes
        ("event: x\n", []),  # no data: nothing to dispatch (as at a blank line)
        ("data: a\n\n", ["a"]),  # a whole event is dispatched once
    ],
)
def test_the_end_of_the_stream(text: str, dispatched: list[str]) -> None:
    assert [e.data for e in iter_sse_text(text)] == dispatched
    # the same however the text is split
    assert [e.data for e in iter_sse_text(list(text))] == dispatched


def test_close_keeps_the_event_name_and_id_and_leaves_the_decoder_empty() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("id: 9\nevent: message_stop\ndata: {}\n") == []
    (event,) = decoder.close()
    assert (event.event, event.data, event.id) == ("message_stop", "{}", "9")
    assert decoder.close() == []


@pytest.mark.parametrize("name", ["anthropic-tool-use.txt", "anthropic-extended-thinking.txt"])
def test_anthropic_s_published_transcripts_keep_their_last_event(name: str) -> None:
    text = sample(name)
    assert text.endswith("}\n") and not text.endswith("\n\n")  # the fact the decision rests on
    assert [e.event for e in iter_sse_text(text)][-1] == "message_stop"


# -- through the providers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def openai(server: FakeServer) -> ProviderFake:
    server.reset()
    return provider_fake("openai")(server)


@pytest.fixture
def anthropic(server: FakeServer) -> ProviderFake:
    server.reset()
    return provider_fake("anthropic")(server)


@pytest.fixture
async def runtime() -> Any:
    async with Runtime(default_registry(), RuntimeSettings(max_attempts=1)) as rt:
        yield rt


async def streamed(runtime: Runtime, connector: Any) -> list[Any]:
    return [chunk async for chunk in runtime.stream(connector, CHAT)]


def sse_answer(text: str) -> FakeResponse:
    return FakeResponse(chunks=[text], content_type="text/event-stream")


def openai_events(last: str) -> str:
    """An OpenAI stream (as api.openai.com frames it) whose final `[DONE]` line ends with `last`."""
    events = openai_testing.chat_stream_events(["Hel", "lo"])
    assert events[-1] == "data: [DONE]\n\n"
    return "".join(events[:-1]) + "data: [DONE]" + last


@pytest.mark.parametrize("last", ["\n", "\r\n", "\r"])
async def test_an_openai_stream_ending_on_done_without_its_blank_line_is_whole(
    runtime: Runtime, openai: ProviderFake, last: str
) -> None:
    openai.fail(sse_answer(openai_events(last)))
    chunks = await streamed(runtime, fake_connector(openai, "openai"))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Hello"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 7


async def test_an_openai_stream_whose_done_line_is_cut_is_still_interrupted(
    runtime: Runtime, openai: ProviderFake
) -> None:
    openai.fail(sse_answer(openai_events("")))
    with pytest.raises(StreamInterruptedError, match=r"ended before `data: \[DONE\]`"):
        await streamed(runtime, fake_connector(openai, "openai"))


async def test_anthropic_s_published_stream_is_whole(runtime: Runtime, anthropic: ProviderFake) -> None:
    anthropic.fail(sse_answer(sample("anthropic-tool-use.txt")))
    chunks = await streamed(runtime, fake_connector(anthropic, "anthropic"))
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "tool_calls"
    calls = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    arguments = "".join(tc["function"].get("arguments") or "" for tc in calls)
    assert json.loads(arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}


async def test_anthropic_s_published_error_event_reaches_the_caller(
    runtime: Runtime, anthropic: ProviderFake
) -> None:
    """The mid-stream error as Anthropic's page shows it: its own message, not 'ended before'."""
    text = sample("anthropic.txt").split("event: message_delta")[0] + sample("anthropic-error-event.txt")
    anthropic.fail(sse_answer(text))
    with pytest.raises(StreamInterruptedError) as caught:
        await streamed(runtime, fake_connector(anthropic, "anthropic"))
    assert "Overloaded" in str(caught.value) and caught.value.code == "overloaded_error"
