"""A wire-exact fake of Groq's OpenAI-compatible API (`/openai/v1/...`) on the OpenAI kit's fake,
with Groq's error bodies and its `x_groq` extension on stream chunks (the request id first, the
usage again at the end)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeServer
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, chat_chunk, error_answer, sse

__all__ = ["CHAT_MODEL", "ERRORS", "FAKE", "GroqFake", "connector", "error_answer", "serve_chat"]

CHAT_MODEL = "llama-3.3-70b-versatile"
PREFIX = "/openai/v1"
REQUEST_ID = "req_01jbd6g2qdfw2adyrt2az8hz4w"


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (401, _error("Invalid API Key", "invalid_request_error", "invalid_api_key")),
    "model_not_found": (
        404,
        _error(
            "The model `x` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
    ),
    "rate_limit": (
        429,
        _error(
            "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_01` service tier "
            "`on_demand` on tokens per minute (TPM): Limit 6000, Used 5950, Requested 120. "
            "Please try again in 7s.",
            "tokens",
            "rate_limit_exceeded",
        ),
    ),
    "server_error": (500, _error("Internal Server Error", "internal_server_error", None)),
}


class GroqFake(OpenAIFake):
    """Groq's API: OpenAI's stream with `x_groq` on the first chunk and the finish chunk."""

    def stream_events(
        self, pieces: Sequence[str], body: Mapping[str, Any], finish: str, prompt: int, completion: int
    ) -> list[str]:
        """OpenAI's events, `x_groq.id` on the first chunk and `x_groq.usage` on the finish chunk."""
        model = body.get("model") or CHAT_MODEL
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        events: list[Any] = [
            {**chat_chunk({"role": "assistant", "content": ""}, model=model), "x_groq": {"id": REQUEST_ID}}
        ]
        events += [chat_chunk({"content": p}, model=model) for p in pieces]
        events.append({**chat_chunk({}, finish, model=model), "x_groq": {"id": REQUEST_ID, "usage": usage}})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chat_chunk({}, model=model), "choices": [], "usage": usage})
        return sse([*events, "[DONE]"])


def _fake(server: FakeServer, api_key: str = DEFAULT_KEY) -> GroqFake:
    return GroqFake(server, api_key=api_key, models=(CHAT_MODEL,), prefix=PREFIX, errors=ERRORS)


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a Groq connector aimed at the fake at `base_url`."""
    return {"model_id": CHAT_MODEL, "url": base_url.rstrip("/") + PREFIX}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /openai/v1/chat/completions` with `pieces`, Groq's way."""
    _fake(server).serve(
        f"{PREFIX}/chat/completions", pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


FAKE = fake_class(
    "groq", install=lambda s, key: _fake(s, key).install(), connector=connector, serve_chat=serve_chat
)
