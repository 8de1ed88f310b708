"""`user` and `metadata` on `/v1/chat/completions` (issue 15: a parameter a connector's provider cannot
honour is refused with a 400 naming it, never dropped): a provider carries them only when it declares
them in `Provider.chat_options`; the route refuses them, before any call, for every other provider."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai_route_helpers import PIECES, READ_KEY, Serve, check_schema

from ai_connector.manager import default_registry
from ai_connector.testing import FakeServer
from ai_connector.types import CHAT_OPTIONS, Provider, TaskType

HELLO = [{"role": "user", "content": "Say hello"}]


def client(serve: Serve) -> openai.OpenAI:
    return openai.OpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0, timeout=60)


def sent_to(fake: FakeServer, path: str) -> dict[str, Any]:
    [request] = [r for r in fake.requests if r.path == path]
    body: dict[str, Any] = request.json()
    return body


@pytest.mark.parametrize("stream", [False, True])
def test_openai_receives_user_as_openais_user(serve: Serve, fake: FakeServer, stream: bool) -> None:
    answer = client(serve).chat.completions.create(
        model="chat-openai", messages=HELLO, user="user-42", stream=stream
    )
    text = "".join(c.choices[0].delta.content or "" for c in answer if c.choices) if stream else None
    assert (text if stream else answer.choices[0].message.content) == "".join(PIECES)  # type: ignore[union-attr]
    assert sent_to(fake, "/v1/chat/completions")["user"] == "user-42"


def test_anthropic_receives_user_as_its_metadata_user_id(serve: Serve, fake: FakeServer) -> None:
    answer = client(serve).chat.completions.create(model="chat-anthropic", messages=HELLO, user="user-42")
    assert answer.choices[0].message.content == "".join(PIECES)
    assert sent_to(fake, "/v1/messages")["metadata"] == {"user_id": "user-42"}


@pytest.mark.parametrize(
    "model",
    ["chat-amazonbedrock", "chat-googlevertexai", "chat-elastic", "googlevertexai-chat_completion-endpoint"],
)
@pytest.mark.parametrize("stream", [False, True])
def test_user_is_refused_for_a_provider_whose_service_has_no_such_field(
    serve: Serve, fake: FakeServer, model: str, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(model=model, messages=HELLO, user="user-42", stream=stream)
    body = caught.value.response.json()
    check_schema("ErrorResponse", body)
    assert body["error"]["param"] == "user" and body["error"]["code"] == "unsupported_parameter"
    assert "'user'" in body["error"]["message"]
    assert fake.requests == []  # refused before any call


@pytest.mark.parametrize("model", ["chat-openai", "chat-anthropic", "chat-amazonbedrock"])
def test_metadata_is_refused_as_no_provider_carries_it(serve: Serve, fake: FakeServer, model: str) -> None:
    """OpenAI keeps `metadata` only for stored completions (`store`, refused here); Anthropic's
    `metadata` holds only `user_id`; Bedrock and Gemini have no such field."""
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(model=model, messages=HELLO, metadata={"team": "search"})
    assert caught.value.response.json()["error"]["param"] == "metadata"
    assert fake.requests == []


def test_unset_and_empty_values_ask_nothing_of_the_provider(serve: Serve) -> None:
    answer = client(serve).chat.completions.create(
        model="chat-amazonbedrock", messages=HELLO, user="", metadata={}
    )
    assert answer.choices[0].message.content == "".join(PIECES)


def test_declarations_name_only_known_options() -> None:
    providers = [p for p in default_registry() if TaskType.CHAT_COMPLETION in p.task_types]
    assert all(p.chat_options <= CHAT_OPTIONS for p in providers)
    declared = {p.id for p in providers if "user" in p.chat_options}
    assert {"openai", "azureopenai", "anthropic", "mistral", "groq"} <= declared
    assert not declared & {"amazonbedrock", "googlevertexai", "googleaistudio", "elastic", "watsonxai"}
    with pytest.raises(ValueError, match="unknown chat options"):
        Provider(
            id="demo",
            name="Demo",
            task_types=frozenset({TaskType.COMPLETION}),
            settings_schema={"type": "object", "properties": {}},
            completion=_complete,
            chat_options=frozenset({"seed"}),
        )


async def _complete(*_: Any) -> list[str]:
    return ["ok"]
