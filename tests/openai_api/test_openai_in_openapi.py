"""OpenAI's routes are in the host's OpenAPI document (`/api/openapi.json`), under the prefix the
host serves them at, and what the routes really answer validates against what the document says."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest
from jsonschema import Draft202012Validator
from openai_route_helpers import READ_KEY, Serve

from ai_connector.api.app import create_app

HELLO = [{"role": "user", "content": "Say hello"}]
OPERATIONS = {
    ("post", "/chat/completions"),
    ("post", "/completions"),
    ("post", "/embeddings"),
    ("get", "/models"),
    ("get", "/models/{model}"),
}


@pytest.fixture(scope="module")
def document(serve: Serve) -> dict[str, Any]:
    response = httpx.get(serve.url + "/api/openapi.json", timeout=30)
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def check(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    validator = Draft202012Validator({**schema, "components": document["components"]})
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
    assert errors == []


def answer_schema(document: dict[str, Any], method: str, path: str, status: str = "200") -> dict[str, Any]:
    responses = document["paths"]["/v1" + path][method]["responses"]
    schema: dict[str, Any] = responses[status]["content"]["application/json"]["schema"]
    return schema


def request_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    body = document["paths"]["/v1" + path]["post"]["requestBody"]
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    return schema


def client(serve: Serve) -> openai.OpenAI:
    return openai.OpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0, timeout=60)


def test_every_openai_route_is_documented_with_bearer_auth(document: dict[str, Any]) -> None:
    found = {
        (method, path.removeprefix("/v1"))
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method in item
    }
    assert found == OPERATIONS
    assert document["components"]["securitySchemes"]["openaiBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <host API key>`, as OpenAI clients send it.",
    }
    for method, path in OPERATIONS:
        operation = document["paths"]["/v1" + path][method]
        assert {"openaiBearer": []} in operation["security"]
        assert {"200", "400", "401", "404", "429"} <= set(operation["responses"])
    streamed = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert set(streamed) == {"application/json", "text/event-stream"}
    # the Kibana API is still there, unchanged
    assert "/api/actions/connector/{id}/_execute" in document["paths"]


def test_the_answers_are_what_the_document_says(serve: Serve, document: dict[str, Any]) -> None:
    sdk = client(serve)
    chat = sdk.chat.completions.with_raw_response.create(model="chat-openai", messages=HELLO)
    check(document, answer_schema(document, "post", "/chat/completions"), chat.http_response.json())
    completion = sdk.completions.with_raw_response.create(model="complete-openai", prompt="Say hello")
    check(document, answer_schema(document, "post", "/completions"), completion.http_response.json())
    for encoding in ("float", "base64"):
        embedded = sdk.embeddings.with_raw_response.create(
            model="embed-openai", input=["a", "b"], encoding_format=encoding
        )
        check(document, answer_schema(document, "post", "/embeddings"), embedded.http_response.json())
    models = sdk.models.with_raw_response.list()
    check(document, answer_schema(document, "get", "/models"), models.http_response.json())
    model = sdk.models.with_raw_response.retrieve("embed-openai")
    check(document, answer_schema(document, "get", "/models/{model}"), model.http_response.json())
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("nothing-here")
    check(document, answer_schema(document, "get", "/models/{model}", "404"), caught.value.response.json())


@pytest.mark.parametrize(
    ("path", "body", "valid"),
    [
        ("/chat/completions", {"model": "m", "messages": HELLO}, True),
        (
            "/chat/completions",
            {"model": "m", "messages": HELLO, "stream": True, "stream_options": {"include_usage": True}},
            True,
        ),
        ("/chat/completions", {"model": "m", "messages": []}, False),
        ("/chat/completions", {"messages": HELLO}, False),
        ("/completions", {"model": "m", "prompt": "Say hello", "stream": True}, True),
        ("/completions", {"model": "m"}, False),
        ("/embeddings", {"model": "m", "input": ["a", "b"], "encoding_format": "base64"}, True),
        ("/embeddings", {"model": "m", "input": "a", "encoding_format": "int8"}, False),
    ],
)
def test_request_bodies_are_described(
    document: dict[str, Any], path: str, body: dict[str, Any], valid: bool
) -> None:
    validator = Draft202012Validator({**request_schema(document, path), "components": document["components"]})
    assert validator.is_valid(body) is valid


@pytest.mark.parametrize(("prefix", "expected"), [("/openai/v1", "/openai/v1/chat/completions"), ("", None)])
def test_the_document_follows_the_prefix_setting(prefix: str, expected: str | None) -> None:
    service: Any = SimpleNamespace(settings=SimpleNamespace(openai_api_prefix=prefix))
    paths = create_app(service, api_keys={}).openapi()["paths"]
    openai_paths = [p for p in paths if p.endswith("/chat/completions")]
    assert openai_paths == ([expected] if expected else [])
