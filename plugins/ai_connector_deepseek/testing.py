"""A wire-exact fake of api.deepseek.com (`POST /chat/completions`, no `/v1`) on the OpenAI kit's
fake, with DeepSeek's error bodies (402 insufficient balance, 400 "Model Not Exist") and the
`: keep-alive` SSE comments it sends while a stream is busy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeServer
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, error_answer

__all__ = ["CHAT_MODEL", "ERRORS", "FAKE", "DeepSeekFake", "connector", "error_answer", "serve_chat"]

CHAT_MODEL = "deepseek-chat"


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": "invalid_request_error"}}


# DeepSeek's error codes page (api-docs.deepseek.com/quick_start/error_codes); bodies as it sends them.
ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (
        401,
        _error("Authentication Fails, Your api key: ****0000 is invalid", "authentication_error"),
    ),
    "model_not_found": (400, _error("Model Not Exist", "invalid_request_error")),
    "rate_limit": (429, _error("Rate Limit Reached", "rate_limit_error")),
    "quota": (402, _error("Insufficient Balance", "unknown_error")),
    "server_error": (503, _error("Server Overloaded", "service_unavailable_error")),
}


class DeepSeekFake(OpenAIFake):
    """DeepSeek's API: its errors, and keep-alive comments inside streams."""

    def stream_events(
        self, pieces: Sequence[str], body: Mapping[str, Any], finish: str, prompt: int, completion: int
    ) -> list[str]:
        """OpenAI's events with a `: keep-alive` comment before the first and after the second."""
        events = super().stream_events(pieces, body, finish, prompt, completion)
        return [": keep-alive\n\n", *events[:2], ": keep-alive\n\n", *events[2:]]


def _fake(server: FakeServer, api_key: str = DEFAULT_KEY) -> DeepSeekFake:
    return DeepSeekFake(
        server, api_key=api_key, models=(CHAT_MODEL, "deepseek-reasoner"), prefix="", errors=ERRORS
    )


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a DeepSeek connector aimed at the fake at `base_url`."""
    return {"model_id": CHAT_MODEL, "url": f"{base_url.rstrip('/')}/chat/completions"}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /chat/completions` with `pieces`, DeepSeek's way."""
    _fake(server).serve(
        "/chat/completions", pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


FAKE = fake_class(
    "deepseek", install=lambda s, key: _fake(s, key).install(), connector=connector, serve_chat=serve_chat
)
