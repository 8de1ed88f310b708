"""A wire-exact fake of api.mistral.ai on the OpenAI kit's fake: `/v1/chat/completions` and
`/v1/embeddings` on OpenAI's wire, with Mistral's own error bodies (the examples in ES's
MistralErrorResponse) and its stream framing: usage rides on the finish chunk, unasked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeServer
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, chat_chunk, error_answer, sse

__all__ = [
    "CHAT_MODEL",
    "EMBEDDING_MODEL",
    "ERRORS",
    "FAKE",
    "MistralFake",
    "connector",
    "error_answer",
    "serve_chat",
]

CHAT_MODEL = "mistral-small-latest"
EMBEDDING_MODEL = "mistral-embed"
# kind -> (status, body): ES's MistralErrorResponse javadoc examples; 429 and 500 as Mistral sends them.
ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (401, {"message": "Unauthorized", "request_id": "ad95a2165083f20b490f8f78a14bb104"}),
    "model_not_found": (
        400,
        {
            "object": "error",
            "message": "Invalid model: wrong-model-name",
            "type": "invalid_model",
            "param": None,
            "code": "1500",
        },
    ),
    "rate_limit": (429, {"message": "Requests rate limit exceeded"}),
    "server_error": (
        500,
        {
            "object": "error",
            "message": "Internal server error",
            "type": "internal_server_error",
            "param": None,
            "code": "3000",
        },
    ),
}


class MistralFake(OpenAIFake):
    """Mistral's API: its error bodies; the finish chunk carries the usage; `[DONE]` last."""

    def stream_events(
        self, pieces: Sequence[str], body: Mapping[str, Any], finish: str, prompt: int, completion: int
    ) -> list[str]:
        """Mistral's framing: a role chunk, the pieces, the finish chunk with `usage`, `[DONE]`."""
        model = body.get("model") or CHAT_MODEL
        usage = {
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
            "completion_tokens": completion,
        }
        events: list[Any] = [chat_chunk({"role": "assistant", "content": ""}, model=model)]
        events += [chat_chunk({"content": p}, model=model) for p in pieces]
        events += [{**chat_chunk({"content": ""}, finish, model=model), "usage": usage}, "[DONE]"]
        return sse(events)


def _fake(server: FakeServer, api_key: str = DEFAULT_KEY) -> MistralFake:
    return MistralFake(server, api_key=api_key, models=(CHAT_MODEL, EMBEDDING_MODEL), errors=ERRORS)


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a Mistral connector aimed at the fake at `base_url`."""
    model = EMBEDDING_MODEL if task_type == "text_embedding" else CHAT_MODEL
    return {"model": model, "url": f"{base_url.rstrip('/')}/v1"}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /v1/chat/completions` with `pieces`, Mistral's way."""
    _fake(server).serve(
        "/v1/chat/completions", pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


FAKE = fake_class(
    "mistral", install=lambda s, key: _fake(s, key).install(), connector=connector, serve_chat=serve_chat
)
