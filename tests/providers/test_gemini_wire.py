"""Gemini's wire format (the shared `ai_connector_gemini` package): requests out, streams and errors in,
replayed against Google's own recorded transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
    ChatRequest,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderServerError,
    RateLimitError,
    StreamInterruptedError,
    ToolCallDelta,
    Usage,
)
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector_gemini import (
    ChunkTranslator,
    GeminiStreamDecoder,
    chat_body,
    embedding_task_type,
    finish_reason,
    google_error,
    parse_duration,
    parse_google_status,
    prompt_body,
    response_text,
    stream_chat,
)
from ai_connector_gemini.testing import (
    MID_STREAM_CANCELLED,
    generate_response,
    rpc_status,
    sse,
    text_stream,
    usage_metadata,
)

STREAMS = Path("/work/shared/wire-samples/streams")
GEMINI = (STREAMS / "gemini.txt").read_bytes()
GEMINI_VERTEX = (STREAMS / "gemini-vertex.txt").read_bytes()


def _translate(values: list) -> list:
    translator = ChunkTranslator()
    chunks = [c for v in values for c in translator.translate(v)]
    usage = translator.usage_chunk()
    return [*chunks, usage] if usage else chunks


def _decode(body: bytes, sizes: list[int] | None = None) -> list:
    decoder = GeminiStreamDecoder()
    text = body.decode()
    out: list = []
    pos = 0
    for size in sizes or [len(text)]:
        out += decoder.feed(text[pos : pos + size])
        pos += size
    out += decoder.feed(text[pos:]) + decoder.close()
    return out


# --- recorded transcripts ------------------------------------------------------------------------


def test_gemini_api_transcript_becomes_role_text_finish_and_usage() -> None:
    chunks = _translate(_decode(GEMINI))
    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "The capital of Wyoming is **Cheyenne**.\n"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].is_usage_only
    assert chunks[-1].usage == Usage(prompt_tokens=7, completion_tokens=10, total_tokens=17)


def test_vertex_transcript_with_safety_ratings_becomes_one_answer() -> None:
    chunks = _translate(_decode(GEMINI_VERTEX))
    assert [(c.role, c.content, c.finish_reason) for c in chunks[:-1]] == [
        ("assistant", None, None),
        (None, "Cheyenne", None),
        (None, None, "stop"),
    ]
    assert chunks[-1].usage == Usage(prompt_tokens=6, completion_tokens=4, total_tokens=10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), max_size=80))
def test_transcript_decodes_the_same_however_the_bytes_are_split(sizes: list[int]) -> None:
    assert _decode(GEMINI, sizes) == _decode(GEMINI)


async def _stream(server: FakeServer, chunks: list, *, abort_after: int | None = None) -> list:
    server.add("POST", "/m:streamGenerateContent", FakeResponse(chunks=chunks, abort_after=abort_after))
    out = []
    async with build_client() as client:
        ctx = CallContext(client=client, provider_id="gemini")
        async for chunk in stream_chat(ctx, server.url + "/m:streamGenerateContent", {}, headers={}):
            out.append(chunk)
    return out


async def test_transcript_replayed_over_http_in_small_pieces(server: FakeServer) -> None:
    pieces = [GEMINI[i : i + 7] for i in range(0, len(GEMINI), 7)]
    chunks = await _stream(server, pieces)
    assert server.last.query == {"alt": "sse"}
    assert "".join(c.content or "" for c in chunks) == "The capital of Wyoming is **Cheyenne**.\n"
    assert chunks[-1].usage == Usage(prompt_tokens=7, completion_tokens=10, total_tokens=17)


async def test_stream_that_closes_before_finish_reason_is_interrupted(server: FakeServer) -> None:
    with pytest.raises(StreamInterruptedError, match="finishReason"):
        await _stream(server, text_stream(["a", "b"])[:1])


async def test_stream_cut_by_the_network_is_interrupted(server: FakeServer) -> None:
    with pytest.raises(StreamInterruptedError):
        await _stream(server, text_stream(["a", "b", "c"]), abort_after=2)


async def test_bare_error_object_mid_stream_is_interrupted_with_googles_message(server: FakeServer) -> None:
    chunks = [*text_stream(["a", "b", "c"])[:2], MID_STREAM_CANCELLED]
    with pytest.raises(StreamInterruptedError) as info:
        await _stream(server, chunks)
    assert (
        "499 CANCELLED" in str(info.value) and info.value.provider_message == "The operation was cancelled."
    )


async def test_error_as_a_data_event_is_interrupted(server: FakeServer) -> None:
    chunks = [
        *text_stream(["a", "b"])[:1],
        *sse([rpc_status(500, "Internal error encountered.", "INTERNAL")]),
    ]
    with pytest.raises(StreamInterruptedError, match="Internal error encountered"):
        await _stream(server, chunks)


async def test_event_that_is_not_json_is_an_invalid_response(server: FakeServer) -> None:
    with pytest.raises(InvalidResponseError):
        await _stream(server, ["data: {not json\r\n\r\n"])


async def test_event_of_the_wrong_shape_is_an_invalid_response(server: FakeServer) -> None:
    with pytest.raises(InvalidResponseError):
        await _stream(server, sse([{"candidates": [{"content": {"parts": [{"text": 5}]}}]}]))


async def test_non_sse_array_body_is_read_too(server: FakeServer) -> None:
    objects = [
        generate_response("Hi"),
        generate_response(" there", finish_reason="STOP", usage=usage_metadata(3, 2)),
    ]
    chunks = await _stream(server, [json.dumps(objects, indent=2)])
    assert "".join(c.content or "" for c in chunks) == "Hi there"
    assert chunks[-1].usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


async def test_error_status_on_the_stream_is_typed(server: FakeServer) -> None:
    body = rpc_status(404, "models/x is not found", "NOT_FOUND")
    server.add("POST", "/m:streamGenerateContent", FakeResponse.json(body, 404))
    async with build_client() as client:
        ctx = CallContext(client=client, provider_id="gemini")
        with pytest.raises(ModelNotFoundError, match="models/x is not found"):
            async for _ in stream_chat(ctx, server.url + "/m:streamGenerateContent", {}, headers={}):
                pass


# --- the decoder ---------------------------------------------------------------------------------


def test_decoder_handles_cr_split_across_feeds_and_comments() -> None:
    decoder = GeminiStreamDecoder()
    out = decoder.feed(': note\r\ndata: {"a": 1}\r')
    out += decoder.feed("\n\r")
    out += decoder.feed('\ndata: {"b": 2}\r\n\r\n')
    assert out == [{"a": 1}, {"b": 2}]


def test_decoder_returns_a_pretty_printed_error_object_once_complete() -> None:
    decoder = GeminiStreamDecoder()
    lines = MID_STREAM_CANCELLED.splitlines(keepends=True)
    seen = [decoder.feed(line) for line in lines]
    assert all(not s for s in seen[:-1])
    assert seen[-1] == [rpc_status(499, "The operation was cancelled.", "CANCELLED")]


def test_decoder_drops_an_event_cut_off_mid_json() -> None:
    decoder = GeminiStreamDecoder()
    assert decoder.feed('data: {"a": 1\r\n') == []
    assert decoder.close() == []


@pytest.mark.parametrize("tail", ["", "\r\n", "\n"])
def test_decoder_keeps_a_complete_final_event_without_its_blank_line(tail: str) -> None:
    decoder = GeminiStreamDecoder()
    assert decoder.feed('data: {"a": 1}\r\n\r\ndata: {"b": 2}' + tail) == [{"a": 1}]
    assert decoder.close() == [{"b": 2}]


async def test_final_event_without_blank_line_still_finishes_the_stream(server: FakeServer) -> None:
    chunks = text_stream(["Hi", " there"])
    chunks[-1] = chunks[-1].removesuffix("\r\n\r\n")  # the body ends right after the last JSON
    out = await _stream(server, chunks)
    assert "".join(c.content or "" for c in out) == "Hi there"
    assert [c.finish_reason for c in out if c.finish_reason] == ["stop"]
    assert out[-1].usage == Usage(prompt_tokens=5, completion_tokens=7, total_tokens=12)


# --- the translator ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("google", "openai"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
    ],
)
def test_normal_finish_reasons_map_to_openais(google: str, openai: str) -> None:
    assert finish_reason(google) == openai
    chunks = ChunkTranslator().translate(generate_response("x", finish_reason=google))
    assert chunks[-1].finish_reason == openai


def _stopped(reason: str, message: str | None = None) -> dict:
    obj = generate_response("partial", finish_reason=reason)
    if message is not None:
        obj["candidates"][0]["finishMessage"] = message
    return obj


# FinishReason values from Google's GenerateContentResponse reference: everything but STOP and
# MAX_TOKENS means Google stopped the answer; content-policy stops are refusals of the request.
STOPPED = [
    ("SAFETY", InvalidRequestError),
    ("RECITATION", InvalidRequestError),
    ("BLOCKLIST", InvalidRequestError),
    ("PROHIBITED_CONTENT", InvalidRequestError),
    ("SPII", InvalidRequestError),
    ("OTHER", InvalidResponseError),
    ("MALFORMED_FUNCTION_CALL", InvalidResponseError),
    ("LANGUAGE", InvalidResponseError),
]


@pytest.mark.parametrize(("reason", "error"), STOPPED)
def test_a_stopped_answer_is_a_typed_error_with_googles_finish_message(reason: str, error: type) -> None:
    message = f"Stopped: {reason.lower()}"
    for read in (ChunkTranslator().translate, response_text):
        with pytest.raises(error) as info:
            read(_stopped(reason, message))
        assert info.value.code == reason and info.value.provider_message == message
        assert reason in str(info.value) and message in str(info.value)


async def test_a_stream_stopped_for_safety_raises_after_the_text_it_gave(server: FakeServer) -> None:
    chunks = [*text_stream(["Once upon", " a time"])[:1], *sse([_stopped("SAFETY", "Unsafe content.")])]
    with pytest.raises(InvalidRequestError, match="Unsafe content") as info:
        await _stream(server, chunks)
    assert info.value.code == "SAFETY"


def test_a_stopped_answer_without_finish_message_still_names_the_reason() -> None:
    with pytest.raises(InvalidRequestError, match="RECITATION") as info:
        response_text(_stopped("RECITATION"))
    assert info.value.provider_message is None


@pytest.mark.parametrize("candidate", [{}, {"index": 0}, {"content": None}])
def test_an_empty_candidate_is_an_invalid_response(candidate: dict) -> None:
    obj = {"candidates": [candidate]}
    with pytest.raises(InvalidResponseError, match="no content"):
        ChunkTranslator().translate(obj)
    with pytest.raises(InvalidResponseError, match="no content"):
        response_text(obj)


@pytest.mark.parametrize(
    "candidate",
    [
        "text",
        {"content": {"parts": "not a list"}, "finishReason": "STOP"},
        {"content": {"parts": [{"text": ["x"]}]}, "finishReason": "STOP"},
    ],
)
async def test_a_malformed_candidate_is_an_invalid_response(server: FakeServer, candidate: object) -> None:
    obj = {"candidates": [candidate]}
    with pytest.raises(InvalidResponseError):
        response_text(obj)
    with pytest.raises(InvalidResponseError):
        await _stream(server, sse([obj]))


def test_a_repeated_finish_reason_gives_one_finish() -> None:
    # Vertex may repeat finishReason on a trailing usage-only chunk.
    translator = ChunkTranslator()
    objects = [
        generate_response("Hi", finish_reason="STOP"),
        generate_response("", finish_reason="STOP", usage=usage_metadata(3, 2)),
    ]
    chunks = [c for obj in objects for c in translator.translate(obj)]
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert translator.usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


async def test_a_stream_with_several_finish_reasons_ends_once(server: FakeServer) -> None:
    objects = [
        generate_response("Hi", finish_reason="STOP"),
        generate_response(" there", finish_reason="STOP", usage=usage_metadata(3, 2)),
    ]
    out = await _stream(server, sse(objects))
    assert [c.finish_reason for c in out if c.finish_reason] == ["stop"]
    assert out[-1].usage == Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


def test_function_calls_become_tool_call_deltas_and_finish_with_tool_calls() -> None:
    translator = ChunkTranslator()
    calls = [
        {"name": "get_weather", "args": {"city": "Paris", "unit": "°C"}},
        {"id": "fc-7", "name": "get_time", "args": {}},
    ]
    chunks = translator.translate(generate_response("Checking.", function_calls=calls, finish_reason="STOP"))
    assert chunks[1].content == "Checking."
    assert chunks[2].tool_calls == (
        ToolCallDelta(
            index=0, id="gemini-call-0", name="get_weather", arguments='{"city":"Paris","unit":"°C"}'
        ),
    )
    assert chunks[3].tool_calls == (ToolCallDelta(index=1, id="fc-7", name="get_time", arguments="{}"),)
    assert chunks[4].finish_reason == "tool_calls"


def test_thought_parts_are_not_content_and_thinking_counts_as_completion() -> None:
    obj = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "pondering", "thought": True}, {"text": "Yes."}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "thoughtsTokenCount": 30},
    }
    translator = ChunkTranslator()
    chunks = translator.translate(obj)
    assert [c.content for c in chunks if c.content] == ["Yes."]
    assert translator.usage == Usage(prompt_tokens=4, completion_tokens=32)


BLOCKED = {
    "promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": "Prompt not allowed."},
    "usageMetadata": {"promptTokenCount": 4},
}


def test_blocked_prompt_is_an_invalid_request_with_googles_message() -> None:
    for read in (ChunkTranslator().translate, response_text):
        with pytest.raises(InvalidRequestError, match="blocked") as info:
            read(BLOCKED)
        assert info.value.code == "PROHIBITED_CONTENT"
        assert info.value.provider_message == "Prompt not allowed."
        assert "Prompt not allowed." in str(info.value)


async def test_blocked_prompt_on_a_stream_is_an_invalid_request(server: FakeServer) -> None:
    with pytest.raises(InvalidRequestError, match="Prompt not allowed"):
        await _stream(server, sse([BLOCKED]))


def test_unary_answer_text_and_its_failures() -> None:
    assert response_text(generate_response("Hello", finish_reason="STOP")) == "Hello"
    with pytest.raises(InvalidRequestError, match="blocked"):
        response_text({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})
    with pytest.raises(InvalidResponseError):
        response_text({"candidates": [{"content": {"parts": [{"text": 1}]}}]})
    with pytest.raises(InvalidResponseError):
        response_text(["not", "an", "object"])


# --- requests ------------------------------------------------------------------------------------


def test_chat_request_becomes_contents_system_instruction_and_generation_config() -> None:
    request = ChatRequest(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi!"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2+2?"}],
            },
        ],
        max_tokens=50,
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
    )
    assert chat_body(request) == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hello"}]},
            {"role": "model", "parts": [{"text": "Hi!"}]},
            {"role": "user", "parts": [{"text": "What is "}, {"text": "2+2?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "maxOutputTokens": 50,
            "temperature": 0.2,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
    }


def test_tool_round_trip_becomes_function_call_and_merged_function_responses() -> None:
    request = ChatRequest(
        messages=[
            {"role": "user", "content": "Weather in Paris and time?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "gemini-call-0",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    },
                    {"id": "call_abc", "type": "function", "function": {"name": "time", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "gemini-call-0", "content": '{"temp": 21}'},
            {"role": "tool", "tool_call_id": "call_abc", "content": "12:00"},
        ],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Weather for a city",
                    "parameters": {
                        "$schema": "http://json-schema.org/draft-07/schema#",
                        "type": "object",
                        "properties": {"city": {"type": ["string", "null"], "description": "City"}},
                        "required": ["city"],
                        "additionalProperties": False,
                    },
                },
            },
            {"type": "function", "function": {"name": "time"}},
        ],
        tool_choice="required",
    )
    body = chat_body(request)
    assert body["contents"][1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "weather", "args": {"city": "Paris"}},
                "thoughtSignature": "skip_thought_signature_validator",
            },
            {"functionCall": {"name": "time", "args": {}, "id": "call_abc"}},
        ],
    }
    assert body["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "time", "response": {"output": "12:00"}, "id": "call_abc"}},
        ],
    }
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "weather",
                    "description": "Weather for a city",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string", "nullable": True, "description": "City"}},
                        "required": ["city"],
                    },
                },
                {"name": "time"},
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ({"type": "function", "function": {"name": "f"}}, {"mode": "ANY", "allowedFunctionNames": ["f"]}),
    ],
)
def test_tool_choice_maps_to_function_calling_config(choice, config) -> None:
    request = ChatRequest(messages=[{"role": "user", "content": "x"}], tool_choice=choice)
    assert chat_body(request)["toolConfig"] == {"functionCallingConfig": config}


def test_data_url_images_are_inlined() -> None:
    content = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    body = chat_body(ChatRequest(messages=[{"role": "user", "content": content}]))
    assert body["contents"][0]["parts"] == [{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "narrator", "content": "x"}],
        [{"role": "system", "content": "only a system message"}],
        [{"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{bad"}}]}],
        [{"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "[1]"}}]}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
        [{"role": "user", "content": [{"type": "input_audio"}]}],
    ],
)
def test_what_gemini_cannot_express_is_an_invalid_request(messages) -> None:
    with pytest.raises(InvalidRequestError):
        chat_body(ChatRequest(messages=messages))


def test_unknown_tool_choice_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="tool_choice"):
        chat_body(ChatRequest(messages=[{"role": "user", "content": "x"}], tool_choice="sometimes"))


def test_prompt_body_and_embedding_task_types() -> None:
    assert prompt_body("Hello world", max_output_tokens=1) == {
        "contents": [{"role": "user", "parts": [{"text": "Hello world"}]}],
        "generationConfig": {"maxOutputTokens": 1},
    }
    assert embedding_task_type("ingest") == "RETRIEVAL_DOCUMENT"
    assert embedding_task_type("search") == "RETRIEVAL_QUERY"
    assert embedding_task_type(None) is None and embedding_task_type("unknown") is None


# --- errors --------------------------------------------------------------------------------------


def test_durations() -> None:
    assert parse_duration("59s") == 59.0
    assert parse_duration("25.465784708s") == pytest.approx(25.465784708)
    assert parse_duration({"seconds": 3, "nanos": 500_000_000}) == 3.5
    assert parse_duration("soon") is None and parse_duration("-1s") is None and parse_duration(None) is None


def test_api_key_invalid_on_400_is_a_credentials_error() -> None:
    body = rpc_status(
        400,
        "API key not valid. Please pass a valid API key.",
        "INVALID_ARGUMENT",
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        },
    )
    err = google_error(400, {}, json.dumps(body))
    assert isinstance(err, AuthenticationError) and err.code == "API_KEY_INVALID" and err.status == 400
    assert "API key not valid" in str(err)


def test_retry_info_becomes_retry_after_and_a_daily_quota_is_not_retryable() -> None:
    def quota(quota_id: str) -> bytes:
        return json.dumps(
            rpc_status(
                429,
                "You exceeded your current quota",
                "RESOURCE_EXHAUSTED",
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": quota_id}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "59s"},
            )
        ).encode()

    minute = google_error(429, {}, quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"))
    day = google_error(429, {}, quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier"))
    assert isinstance(minute, RateLimitError) and minute.retryable and minute.retry_after == 59.0
    assert isinstance(day, RateLimitError) and not day.retryable


def test_other_statuses_and_bodies() -> None:
    assert isinstance(
        google_error(403, {}, json.dumps(rpc_status(403, "denied", "PERMISSION_DENIED"))),
        AuthenticationError,
    )
    assert isinstance(
        google_error(404, {}, json.dumps(rpc_status(404, "gone", "NOT_FOUND"))), ModelNotFoundError
    )
    server = google_error(500, {}, json.dumps(rpc_status(500, "Internal error encountered.", "INTERNAL")))
    assert isinstance(server, ProviderServerError) and server.retryable
    html = google_error(404, {}, b"<html><body>Error 404 (Not Found)!!1</body></html>")
    assert isinstance(html, ModelNotFoundError) and "Not Found" in str(html)
    status = parse_google_status(json.dumps([rpc_status(400, "bad", "INVALID_ARGUMENT")]))
    assert status is not None and status.status == "INVALID_ARGUMENT"
    assert parse_google_status(b"not json") is None
