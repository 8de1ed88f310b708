"""A wire-exact fake of Hugging Face Inference Endpoints: TGI's OpenAI chat at
`/v1/chat/completions` (the OpenAI kit's fake), TEI's `/embed` (`{"inputs"}` -> `[[...]]`) and
`/rerank` (`[{index, score, text?}]`), an ELSER endpoint (`/elser`, one `{token: weight}` map per
input), and Hugging Face's `{"error": "..."}` bodies (503 with `estimated_time` while loading)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, chat_stream_events, error_answer, sse, stream_response

__all__ = [
    "CHAT_MODEL",
    "ERRORS",
    "FAKE",
    "connector",
    "error_answer",
    "loading_response",
    "midstream_error_response",
    "serve_chat",
]

CHAT_MODEL = "tgi"  # TGI serves one model and names it "tgi"
PATHS = {"text_embedding": "/embed", "sparse_embedding": "/elser", "rerank": "/rerank"}
ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (401, {"error": "Invalid credentials in Authorization header"}),
    "model_not_found": (404, {"error": "Model not found"}),
    "rate_limit": (429, {"error": "Rate limit reached. You reached free usage limit (reset hourly)."}),
    "quota": (
        402,
        {
            "error": "You have exceeded your monthly included credits for Inference Providers. "
            "Subscribe to PRO to get 20x more monthly included credits."
        },
    ),
    "server_error": (500, {"error": "Request failed during generation: Server error: CUDA out of memory"}),
}


def loading_response(seconds: float = 20.0) -> FakeResponse:
    """503 while the endpoint's model loads, with the wait it estimates."""
    return FakeResponse.json({"error": "Model tgi is currently loading", "estimated_time": seconds}, 503)


def midstream_error_response(pieces: Sequence[str] = ("Hel",)) -> FakeResponse:
    """TGI's in-stream error event after some text."""
    head = chat_stream_events(pieces, model=CHAT_MODEL, include_usage=False, done=False)[:-1]  # no finish
    error = {"error": "Input validation error: cannot compile regex from schema", "error_type": "validation"}
    return stream_response(head + sse([error]))


def install(server: FakeServer, api_key: str = DEFAULT_KEY) -> OpenAIFake:
    """TGI's chat, TEI's embed and rerank, and an ELSER endpoint."""
    fake = OpenAIFake(server, api_key=api_key, models=(CHAT_MODEL,), errors=ERRORS).install()

    def keyed(answer: Any) -> Any:
        def handler(request: RecordedRequest) -> FakeResponse:
            if request.headers.get("authorization") != f"Bearer {api_key}":
                return error_answer(ERRORS, "credentials")
            return FakeResponse.json(answer(request.json()))

        return handler

    def rerank(body: dict[str, Any]) -> list[dict[str, Any]]:
        docs = body.get("texts") or body.get("documents") or []
        out = [
            {
                "index": i,
                "score": round(0.2 + 0.3 * i, 4),
                **({"text": d} if body.get("return_documents") else {}),
            }
            for i, d in enumerate(docs)
        ]
        return sorted(out, key=lambda r: -r["score"])  # TEI answers best first

    server.add(
        "POST", "/embed", keyed(lambda b: [[0.1 * (i + 1), -0.2, 0.3] for i in range(len(b["inputs"]))])
    )
    server.add(
        "POST",
        "/elser",
        keyed(lambda b: [{"hello": 1.25, "world": 0.5 + i} for i in range(len(b["inputs"]))]),
    )
    server.add("POST", "/rerank", keyed(rerank))
    return fake


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a Hugging Face connector aimed at the fake at `base_url`."""
    url = base_url.rstrip("/") + PATHS.get(task_type, "/v1/chat/completions")
    model = {} if task_type in PATHS else {"model_id": CHAT_MODEL}
    return {"url": url, **model}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /v1/chat/completions` with `pieces`."""
    OpenAIFake(server).serve(
        "/v1/chat/completions", pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


FAKE = fake_class("hugging_face", install=install, connector=connector, serve_chat=serve_chat)
