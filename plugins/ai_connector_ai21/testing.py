"""A wire-exact fake of AI21 Studio's chat API (`/studio/v1/chat/completions`) on the OpenAI kit's
fake, with AI21's FastAPI-style error bodies (`{"detail": ...}`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ai_connector.testing import FakeServer
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, error_answer

__all__ = ["CHAT_MODEL", "ERRORS", "FAKE", "connector", "error_answer", "serve_chat"]

CHAT_MODEL = "jamba-mini"
PREFIX = "/studio/v1"
ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (401, {"detail": "Forbidden: Bad or missing API token."}),
    "model_not_found": (404, {"detail": "Model not found"}),
    "rate_limit": (429, {"detail": "Too many requests"}),
    "server_error": (500, {"detail": "Internal Server Error"}),
}


def _fake(server: FakeServer, api_key: str = DEFAULT_KEY) -> OpenAIFake:
    return OpenAIFake(
        server, api_key=api_key, models=(CHAT_MODEL, "jamba-large"), prefix=PREFIX, errors=ERRORS
    )


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of an AI21 connector aimed at the fake at `base_url`."""
    return {"model_id": CHAT_MODEL, "url": base_url.rstrip("/") + PREFIX}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /studio/v1/chat/completions` with `pieces`."""
    _fake(server).serve(
        f"{PREFIX}/chat/completions", pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


FAKE = fake_class(
    "ai21", install=lambda s, key: _fake(s, key).install(), connector=connector, serve_chat=serve_chat
)
