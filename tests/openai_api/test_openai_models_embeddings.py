"""`GET /v1/models`, `POST /v1/embeddings` and `POST /v1/completions` through `serve`, called with
the official `openai` SDK, checked against OpenAI's published schemas."""

from __future__ import annotations

import openai
import pytest
from openai_route_helpers import PIECES, READ_KEY, Serve, check_schema

from ai_connector.testing import FakeServer


def client(serve: Serve) -> openai.OpenAI:
    return openai.OpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0, timeout=60)


def test_models_lists_the_connectors_with_their_task_types(serve: Serve) -> None:
    raw = client(serve).models.with_raw_response.list()
    body = raw.http_response.json()
    check_schema("ListModelsResponse", body)
    by_id = {m["id"]: m for m in body["data"]}
    assert by_id["chat-anthropic"]["owned_by"] == "anthropic"
    assert by_id["chat-anthropic"]["task_type"] == "chat_completion"
    assert by_id["chat-anthropic"]["inference_id"] == "anthropic-chat_completion-endpoint"
    assert by_id["embed-amazonbedrock"]["task_type"] == "text_embedding"
    assert by_id["complete-openai"]["task_type"] == "completion"
    assert {m.id for m in raw.parse().data} == set(by_id)


def test_a_model_is_found_by_connector_id_or_inference_id(serve: Serve) -> None:
    by_id = client(serve).models.retrieve("embed-openai")
    by_inference_id = client(serve).models.retrieve("openai-text_embedding-endpoint")
    assert by_id.id == by_inference_id.id == "embed-openai"
    check_schema("Model", by_id.to_dict())
    with pytest.raises(openai.NotFoundError):
        client(serve).models.retrieve("nothing-here")


def test_embeddings_come_back_as_openais_list_whatever_the_encoding(serve: Serve) -> None:
    raw = client(serve).embeddings.with_raw_response.create(
        model="embed-openai", input=["first", "second"], encoding_format="float"
    )
    body = raw.http_response.json()
    check_schema("CreateEmbeddingResponse", body)
    # the OpenAI fake's vectors: round((i + 1) * 0.1 + j * 0.01, 4) for input i, dimension j
    expected = [[0.1, 0.11, 0.12, 0.13], [0.2, 0.21, 0.22, 0.23]]
    assert [d["embedding"] for d in body["data"]] == expected
    assert [d["index"] for d in body["data"]] == [0, 1]
    # the SDK asks for base64 when no format is given, and decodes little-endian float32 itself
    decoded = client(serve).embeddings.create(model="embed-openai", input=["first", "second"])
    assert [[round(x, 4) for x in d.embedding] for d in decoded.data] == expected


def test_a_bedrock_titan_connector_embeds_through_the_same_route(serve: Serve, fake: FakeServer) -> None:
    from ai_connector_amazonbedrock.testing import fake_embedding

    raw = client(serve).embeddings.with_raw_response.create(
        model="amazonbedrock-text_embedding-endpoint", input="hello world", encoding_format="float"
    )
    check_schema("CreateEmbeddingResponse", raw.http_response.json())
    [item] = raw.parse().data
    assert item.embedding == pytest.approx(fake_embedding("hello world", len(item.embedding)))


async def test_the_async_client_embeds(serve: Serve) -> None:
    async with openai.AsyncOpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0) as aclient:
        answer = await aclient.embeddings.create(model="embed-openai", input="one")
    assert [round(x, 4) for x in answer.data[0].embedding] == [0.1, 0.11, 0.12, 0.13]


def test_a_completion_connector_answers_v1_completions(serve: Serve) -> None:
    raw = client(serve).completions.with_raw_response.create(model="complete-openai", prompt="Say hello")
    check_schema("CreateCompletionResponse", raw.http_response.json())
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "".join(PIECES)
    with pytest.raises(openai.BadRequestError) as caught:
        client(serve).completions.create(model="complete-openai", prompt="Say hello", max_tokens=5)
    assert caught.value.body["param"] == "max_tokens"  # type: ignore[index]
