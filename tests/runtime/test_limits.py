"""The runtime's caps (issue 12): SSE lines and events, the aggregated answer, the idle and total
stream timeouts, lone surrogates in params; each a typed error naming its limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ai_connector.errors import ConfigValidationError, ResponseTooLargeError, StreamTimeoutError
from ai_connector.runtime import RuntimeSettings
from ai_connector.runtime.aggregate import ChatAggregator
from ai_connector.runtime.subactions import parse_params, sub_action
from ai_connector.runtime.watchdog import StreamWatchdog
from ai_connector.sse import SSEDecoder, aiter_sse
from ai_connector.types import ChatChunk, TaskType, ToolCallDelta


def test_a_line_with_no_end_is_refused_at_the_cap_however_it_is_split() -> None:
    decoder = SSEDecoder(max_line=1000, max_event=10_000)
    decoder.feed("data: ")
    with pytest.raises(ResponseTooLargeError, match=r"1000 characters \(max_sse_line_bytes\)"):
        for _ in range(1000):
            decoder.feed("a")
    decoder = SSEDecoder(max_line=1000)
    with pytest.raises(ResponseTooLargeError, match="a line"):
        decoder.feed("data: ok\n\n" + "b" * 1001)


def test_an_event_is_refused_past_its_cap_but_many_small_ones_pass() -> None:
    decoder = SSEDecoder(max_line=100, max_event=250)
    events = decoder.feed("data: " + "x" * 90 + "\n\n")
    for _ in range(100):
        events += decoder.feed("data: " + "x" * 90 + "\n\n")
    assert len(events) == 101
    with pytest.raises(ResponseTooLargeError, match=r"an event .* 250 characters \(max_sse_event_bytes\)"):
        decoder.feed(("data: " + "y" * 90 + "\n") * 3)


def test_a_long_line_in_small_pieces_is_joined_once() -> None:
    """Linear buffering: the pieces of an unfinished line are kept, not re-concatenated per feed."""
    decoder = SSEDecoder()
    for _ in range(2000):
        assert decoder.feed("z" * 512) == []
    assert decoder._pending == 2000 * 512 and len(decoder._parts) == 2000
    (event,) = decoder.feed("\ndata: tail\n\n")
    assert event.data == "tail"  # the long line had no field name: ignored, as the spec says
    assert decoder._parts == [] and decoder._pending == 0


async def test_aiter_sse_takes_the_limits_its_byte_source_carries() -> None:
    class Source:
        sse_limits = (64, 1000)

        def __init__(self) -> None:
            self.chunks = iter([b"data: ", b"q" * 100])

        def __aiter__(self) -> Source:
            return self

        async def __anext__(self) -> bytes:
            try:
                return next(self.chunks)
            except StopIteration:
                raise StopAsyncIteration from None

    with pytest.raises(ResponseTooLargeError, match="64 characters"):
        async for _ in aiter_sse(Source()):
            pass


def test_the_aggregated_answer_is_capped_content_and_tool_calls_alike() -> None:
    aggregator = ChatAggregator(id="i", model="m", created=0, provider="p", max_size=100)
    aggregator.add(ChatChunk(content="a" * 60))
    with pytest.raises(ResponseTooLargeError, match=r"100 characters \(max_aggregated_bytes\)"):
        aggregator.add(ChatChunk(tool_calls=(ToolCallDelta(index=0, arguments="b" * 50),)))


@pytest.mark.parametrize(
    ("params", "path"),
    [
        (
            {"body": {"messages": [{"role": "user", "content": "hi \ud800 there"}]}},
            "body.messages[0].content",
        ),
        ({"body": {"messages": [{"role": "user", "content": "ok"}], "model": "m\udfff"}}, "body.model"),
    ],
)
def test_a_lone_surrogate_is_a_params_error_naming_the_field(params: dict[str, object], path: str) -> None:
    spec = sub_action("unified_completion", _Chat(), TaskType.CHAT_COMPLETION)
    with pytest.raises(ConfigValidationError) as refused:
        parse_params(spec, params)
    (error,) = refused.value.errors
    assert error.path == path and "lone surrogate" in error.message
    str(refused.value).encode("utf-8")  # the message itself is encodable


class _Chat:
    """The least a provider needs for `sub_action` to offer chat sub-actions."""

    task_types = frozenset({TaskType.CHAT_COMPLETION})
    chat_completion_stream = object()

    def call_for(self, task_type: TaskType) -> object:
        return object()


async def _chunks(gaps: list[float]) -> AsyncIterator[ChatChunk]:
    for gap in gaps:
        await asyncio.sleep(gap)
        yield ChatChunk(content="x")


@pytest.mark.parametrize(
    ("gaps", "phrase"),
    [([0.0, 5.0], "stream_idle_timeout"), ([0.0] + [0.05] * 200, "max_stream_duration")],
)
async def test_idle_and_total_stream_limits(gaps: list[float], phrase: str) -> None:
    chunks = _chunks(gaps)
    watchdog = StreamWatchdog(idle=0.3, duration=0.6, provider="p")
    with pytest.raises(StreamTimeoutError, match=phrase) as ended:
        while await watchdog.next(chunks) is not None:
            pass
    watchdog.close()
    assert not ended.value.retryable
    await chunks.aclose()


async def test_time_spent_by_the_consumer_is_not_idle_and_outside_cancels_stay_cancels() -> None:
    watchdog = StreamWatchdog(idle=0.2, duration=30.0, provider="p")
    chunks = _chunks([0.0] * 3)
    for _ in range(3):
        assert await watchdog.next(chunks) is not None
        await asyncio.sleep(0.3)  # the consumer is slow: that is not the provider's silence
    assert await watchdog.next(chunks) is None
    slow = _chunks([5.0])
    waiter = asyncio.ensure_future(watchdog.next(slow))
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    watchdog.close()
    await slow.aclose()


def test_settings_refuse_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_connections_per_host"):
        RuntimeSettings(max_connections=10, max_connections_per_host=11)
    with pytest.raises(ValueError, match="max_sse_line_bytes"):
        RuntimeSettings(max_sse_line_bytes=0)
    with pytest.raises(ValueError, match="stream_idle_timeout"):
        RuntimeSettings(stream_idle_timeout=0)
