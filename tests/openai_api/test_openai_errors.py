"""Each failure reaches an OpenAI client as OpenAI's error body with OpenAI's status code, so the
official SDK raises the exception it would raise against OpenAI; what a provider cannot honour is
refused before any call, never dropped."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai_route_helpers import ALL_KEY, CANARY, PIECES, READ_KEY, Serve, check_schema

from ai_connector.testing import FakeResponse, FakeServer

HELLO = [{"role": "user", "content": "Say hello"}]


def client(serve: Serve, key: str = READ_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=serve.base_url, api_key=key, max_retries=0, timeout=60)


def _error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    check_schema("ErrorResponse", body)
    return body["error"]


def test_a_wrong_key_is_openais_401(serve: Serve) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(serve, key="not-a-host-key").chat.completions.create(model="chat-openai", messages=HELLO)
    error = _error_of(caught.value)
    assert caught.value.status_code == 401
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert "not-a-host-key" not in caught.value.response.text


def test_no_key_is_401_and_no_kbn_xsrf_is_needed(serve: Serve) -> None:
    response = httpx.post(
        serve.base_url + "/chat/completions", json={"model": "chat-openai", "messages": HELLO}
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")
    ok = httpx.post(
        serve.base_url + "/chat/completions",
        json={"model": "chat-openai", "messages": HELLO},
        headers={"authorization": f"Bearer {ALL_KEY}"},  # a POST without kbn-xsrf
        timeout=60,
    )
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "".join(PIECES)


def test_an_unknown_model_is_404_model_not_found(serve: Serve) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(serve).chat.completions.create(model="no-such-connector", messages=HELLO)
    error = _error_of(caught.value)
    assert error["code"] == "model_not_found"
    assert error["message"] == "The model `no-such-connector` does not exist or you do not have access to it."
    with pytest.raises(openai.NotFoundError):
        client(serve).embeddings.create(model="no-such-connector", input="x")


def test_an_unknown_route_and_a_body_that_is_not_json_are_refused(serve: Serve) -> None:
    headers = {"authorization": f"Bearer {READ_KEY}"}
    response = httpx.post(serve.base_url + "/images/generations", json={}, headers=headers)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/images/generations)"
    response = httpx.post(serve.base_url + "/chat/completions", content=b"{not json", headers=headers)
    assert response.status_code == 400
    check_schema("ErrorResponse", response.json())


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"seed": 7}, "seed"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"extra_body": {"top_k": 3}}, "top_k"),
    ],
)
def test_a_parameter_the_provider_cannot_honour_is_a_400_naming_it(
    serve: Serve, fake: FakeServer, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(model="chat-anthropic", messages=HELLO, **extra)
    error = _error_of(caught.value)
    assert error["param"] == param and param in error["message"]
    assert fake.requests == []  # refused before any call


def test_default_values_of_those_parameters_are_accepted(serve: Serve) -> None:
    completion = client(serve).chat.completions.create(
        model="chat-anthropic",
        messages=HELLO,
        n=1,
        logprobs=False,
        frequency_penalty=0,
        parallel_tool_calls=True,
    )
    assert completion.choices[0].message.content == "".join(PIECES)


def test_a_non_text_content_part_and_disagreeing_token_limits_are_refused(
    serve: Serve, fake: FakeServer
) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(
            model="chat-openai",
            messages=[{"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}],
        )
    assert _error_of(caught.value)["param"] == "messages[0].content[1].type"
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(
            model="chat-openai", messages=HELLO, max_tokens=10, max_completion_tokens=20
        )
    assert _error_of(caught.value)["param"] == "max_completion_tokens"
    assert fake.requests == []


def test_a_request_over_the_connectors_context_window_is_context_length_exceeded(
    serve: Serve, fake: FakeServer
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(
            model="chat-small-window", messages=[{"role": "user", "content": "word " * 200}]
        )
    assert _error_of(caught.value)["code"] == "context_length_exceeded"
    assert fake.requests == []


def test_the_providers_rate_limit_is_429_with_retry_after(serve: Serve, fake: FakeServer) -> None:
    from ai_connector_openai.testing import rate_limit_response

    fake.add("POST", "/v1/chat/completions", rate_limit_response(retry_after="19"))
    with pytest.raises(openai.RateLimitError) as caught:
        client(serve).chat.completions.create(model="chat-openai", messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "19"
    assert _error_of(caught.value)["code"] == "rate_limit_exceeded"


def test_the_providers_own_refusal_is_400_with_its_message(serve: Serve, fake: FakeServer) -> None:
    from ai_connector_anthropic.testing import error_response

    fake.add("POST", "/v1/messages", error_response(400, "messages: roles must alternate"))
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(model="chat-anthropic", messages=HELLO)
    assert "messages: roles must alternate" in _error_of(caught.value)["message"]


def test_the_provider_refusing_the_connectors_key_is_400_without_the_key(
    serve: Serve, fake: FakeServer
) -> None:
    from ai_connector_openai.testing import invalid_api_key_response

    fake.add("POST", "/v1/chat/completions", invalid_api_key_response(CANARY))
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).chat.completions.create(model="chat-openai", messages=HELLO)
    assert "Incorrect API key" in _error_of(caught.value)["message"]
    # OpenAI's own message masks the key ("sk-a***...wxyz"), as `_execute` reports it; the key itself never
    assert CANARY not in caught.value.response.text


@pytest.mark.parametrize(
    ("route", "answer", "status"),
    [
        (
            "/v1/chat/completions",
            FakeResponse.json({"error": {"message": "boom", "type": "server_error"}}, 500),
            502,
        ),
        (
            "/v1/messages",
            FakeResponse.json(
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 529
            ),
            503,
        ),
        (
            "/v1/chat/completions",
            FakeResponse.json({"error": {"message": "slow", "type": "timeout"}}, 408),
            504,
        ),
    ],
)
def test_an_upstream_failure_is_502_503_or_504(
    serve: Serve, fake: FakeServer, route: str, answer: FakeResponse, status: int
) -> None:
    fake.add("POST", route, answer)
    model = "chat-anthropic" if route == "/v1/messages" else "chat-openai"
    with pytest.raises(openai.InternalServerError) as caught:
        client(serve).chat.completions.create(model=model, messages=HELLO)
    assert caught.value.status_code == status
    assert _error_of(caught.value)["type"] == "server_error"


def test_a_mid_stream_failure_ends_the_stream_with_an_error_event(serve: Serve, fake: FakeServer) -> None:
    from ai_connector_openai.testing import midstream_error_response

    fake.add("POST", "/v1/chat/completions", midstream_error_response(("Hel",), message="The server broke"))
    stream = client(serve).chat.completions.create(model="chat-openai", messages=HELLO, stream=True)
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")
    assert "".join(seen) == "Hel"
    assert "The server broke" in caught.value.message
    raw = httpx.post(
        serve.base_url + "/chat/completions",
        json={"model": "chat-openai", "messages": HELLO, "stream": True},
        headers={"authorization": f"Bearer {READ_KEY}"},
        timeout=60,
    )
    assert raw.status_code == 200
    last = raw.text.strip().split("\n\n")[-1]
    assert last.startswith("event: error\ndata: ")
    check_schema("ErrorResponse", json.loads(last.split("data: ", 1)[1]))
    assert "[DONE]" not in raw.text


def test_a_task_the_connector_does_not_have_is_400(serve: Serve) -> None:
    with pytest.raises(openai.BadRequestError):
        client(serve).embeddings.create(model="chat-openai", input="x", encoding_format="float")
    with pytest.raises(openai.BadRequestError):
        client(serve).chat.completions.create(model="embed-openai", messages=HELLO)
    with pytest.raises(openai.BadRequestError):
        client(serve).completions.create(model="chat-openai", prompt="Say hello", stream=True)


def test_each_call_is_audited_as_execute_is_without_secrets(serve: Serve) -> None:
    from ai_connector.api.auth import key_id

    client(serve).chat.completions.create(model="chat-elastic", messages=HELLO)
    lines = serve.audit_lines()
    executes = [line for line in lines if line["event"]["action"] == "connector_execute"]
    assert any(
        line["connector"]["id"] == "chat-elastic" and line["user"]["name"] == key_id(READ_KEY)
        for line in executes
    )
    text = (serve.home / "audit.log").read_text()
    assert CANARY not in text and READ_KEY not in text


# ---------------------------------------------------------------------------------------------
# A host whose license refuses `.inference`, with the API moved to /openai/v1


PRECONFIGURED = """
[preconfigured.shared-chat]
name = "Shared chat"
provider = "openai"
taskType = "chat_completion"
providerConfig = {{ model_id = "gpt-4o-mini", url = "{url}/v1/chat/completions" }}
providerSecrets = {{ api_key = "{secret}" }}
"""


@pytest.fixture(scope="module")
def basic_host(start_serve: Any, fake: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Serve:
    config = PRECONFIGURED.format(url=fake.url, secret=CANARY)
    return start_serve(
        AI_CONNECTOR_LICENSE="basic", AI_CONNECTOR_OPENAI_API_PREFIX="/openai/v1", ai_connector_toml=config
    )


def test_the_license_gate_is_openais_403_and_lists_no_model(basic_host: Serve) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client(basic_host).chat.completions.create(model="shared-chat", messages=HELLO)
    assert caught.value.status_code == 403
    assert "license" in _error_of(caught.value)["message"]
    assert client(basic_host).models.list().data == []


def test_the_prefix_setting_moves_the_routes(basic_host: Serve) -> None:
    headers = {"authorization": f"Bearer {READ_KEY}"}
    assert httpx.get(basic_host.url + "/openai/v1/models", headers=headers).status_code == 200
    assert httpx.get(basic_host.url + "/v1/models", headers=headers).status_code == 404
