"""A wire-exact fake of Cohere's v2 API for tests, on `ai_connector.testing.FakeServer`.

`FakeCohere` serves `POST /v2/embed`, `/v2/rerank` and `/v2/chat`, checks what a client sends (bearer
key, JSON body, known model, Cohere's own limits: at most 96 texts per embed call, `input_type`
required for v3+ embed models) and answers as Cohere does: v2 bodies, the v2 chat SSE stream
(`event: <type>` + `data: {..., "type": "<type>"}`, from `message-start` to `message-end`, optionally
followed by the `data: [DONE]` some captures show), and `{"message": ...}` error bodies with Cohere's
statuses (401 invalid token, 402 billing limit, 404 unknown model, 429 per-minute or monthly trial
limit with the trial headers, 498, 5xx). Queue one-off answers (errors, broken streams) with `then()`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class

__all__ = [
    "CHAT_MODEL",
    "DEFAULT_API_KEY",
    "EMBED_MODEL",
    "FAKE",
    "PATHS",
    "RERANK_MODEL",
    "FakeCohere",
    "chat_answer",
    "connector",
    "error_response",
    "fake_vector",
    "stream_events",
    "stream_response",
]

DEFAULT_API_KEY = "fake-cohere-key-0000"
EMBED_MODEL = "embed-english-v3.0"
RERANK_MODEL = "rerank-v3.5"
CHAT_MODEL = "command-r-plus-08-2024"
PATHS: Mapping[str, str] = {"text_embedding": "/v2/embed", "rerank": "/v2/rerank", "completion": "/v2/chat"}
DIMENSIONS = 8
MAX_TEXTS = 96  # Cohere's embed limit (CohereServiceFields.EMBEDDING_MAX_BATCH_SIZE)
TRACE_ID = "6c1a7f3e0b9d4e21a3f5c8d7e6b4a290"

_MESSAGES: Mapping[int, str] = {
    400: "invalid request: the request body is not valid",
    401: "invalid api token",
    402: "Please add or update your payment method to continue using the API.",
    404: "not found",
    422: "invalid request",
    429: "You are using a Trial key, which is limited to 10 API calls / minute. You can continue to use "
    "the Trial key for free or upgrade to a Production key with higher rate limits at "
    "'https://dashboard.cohere.com/api-keys'.",
    498: "invalid api token",
    499: "request cancelled",
    500: "internal server error, this has been reported to our developers",
    503: "service unavailable",
}
MONTHLY_LIMIT = (
    "You are using a Trial key, which is limited to 1000 API calls / month. You can continue to use the "
    "Trial key for free or upgrade to a Production key with higher rate limits at "
    "'https://dashboard.cohere.com/api-keys'."
)


def error_response(
    status: int, message: str | None = None, *, retry_after: int | None = None
) -> FakeResponse:
    """Cohere's `{"id", "message"}` error answer; a 429 carries the trial-key headers."""
    headers = {"x-debug-trace-id": TRACE_ID}
    if status == 429:
        headers["x-trial-endpoint-call-limit"] = "10"
        headers["x-trial-endpoint-call-remaining"] = "0"
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    body = {
        "id": "a3f0d2c4-0b1e-4c55-9d3a-7f1e2b6c8d90",
        "message": message or _MESSAGES.get(status, "error"),
    }
    return FakeResponse.json(body, status=status, headers=headers)


def fake_vector(text: str, kind: str = "float") -> list[Any]:
    """A deterministic vector for `text`: floats in [-1, 1), or int8 / packed-binary integers."""
    digest = hashlib.sha256(text.encode()).digest()[:DIMENSIONS]
    if kind == "float":
        return [round(b / 128.0 - 1.0, 6) for b in digest]
    return [b - 128 for b in digest]


def _score(query: str, document: str) -> float:
    words = set(query.lower().split())
    hits = sum(1 for w in document.lower().split() if w in words)
    return round(hits / (len(document.split()) or 1) * 0.9 + 0.05, 6)


def chat_answer(text: str, *, input_tokens: int = 10, output_tokens: int = 5) -> dict[str, Any]:
    """A non-streamed v2 chat answer with one text block."""
    return {
        "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
        "usage": {
            "billed_units": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            "tokens": {"input_tokens": input_tokens + 61, "output_tokens": output_tokens},
        },
    }


def stream_events(
    pieces: Sequence[str],
    *,
    finish_reason: str = "COMPLETE",
    input_tokens: int = 10,
    output_tokens: int = 5,
    error: str | None = None,
) -> list[dict[str, Any]]:
    """The events of a streamed v2 chat answer whose text is `pieces`."""
    events: list[dict[str, Any]] = [
        {
            "type": "message-start",
            "id": "29f14a5a-11de-4cae-9800-25e4747408ea",
            "delta": {
                "message": {
                    "role": "assistant",
                    "content": [],
                    "tool_plan": "",
                    "tool_calls": [],
                    "citations": [],
                }
            },
        },
        {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "text", "text": ""}}},
        },
    ]
    events += [
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}}
        for piece in pieces
    ]
    events.append({"type": "content-end", "index": 0})
    delta: dict[str, Any] = {
        "finish_reason": finish_reason,
        "usage": {
            "billed_units": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            "tokens": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        },
    }
    if error is not None:
        delta["error"] = error
    events.append({"type": "message-end", "delta": delta})
    return events


def stream_response(
    events: Iterable[Mapping[str, Any]], *, done: bool = False, abort_after: int | None = None
) -> FakeResponse:
    """`events` framed as Cohere sends them (`event: <type>` + `data: <json>` + blank line), with a
    trailing `data: [DONE]` when `done`; `abort_after` cuts the connection after that many events."""
    chunks = [f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events]
    if done:
        chunks.append("data: [DONE]\n\n")
    return FakeResponse(
        chunks=chunks,
        abort_after=abort_after,
        headers={"x-debug-trace-id": TRACE_ID, "cache-control": "no-cache"},
        content_type="text/event-stream",
    )


class FakeCohere:
    """Cohere's v2 embed, rerank and chat endpoints on a FakeServer, checking each request."""

    def __init__(
        self,
        server: FakeServer,
        *,
        api_key: str = DEFAULT_API_KEY,
        models: Sequence[str] = (EMBED_MODEL, RERANK_MODEL, CHAT_MODEL),
        text: str = "Hello!",
        pieces: Sequence[str] = ("Hello", "!"),
        done_after_end: bool = False,
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.models = list(models)
        self.text = text
        self.pieces = list(pieces)
        self.done_after_end = done_after_end
        self.queued: list[FakeResponse] = []
        server.add("POST", PATHS["text_embedding"], self._embed)
        server.add("POST", PATHS["rerank"], self._rerank)
        server.add("POST", PATHS["completion"], self._chat)

    def then(self, response: FakeResponse) -> None:
        """Answer the next accepted request with `response` (after the key and body checks)."""
        self.queued.append(response)

    def _accept(self, request: RecordedRequest) -> tuple[dict[str, Any] | None, FakeResponse | None]:
        """(body, None) for a keyed JSON request for a known model, else (None, Cohere's refusal)."""
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or key != self.api_key:
            return None, error_response(401)
        try:
            body = request.json()
        except ValueError:
            return None, error_response(400, "invalid request: could not parse the request body as JSON")
        if not isinstance(body, dict):
            return None, error_response(400, "invalid request: the request body must be a JSON object")
        model = body.get("model")
        if not model:
            return None, error_response(400, "invalid request: model must be specified")
        if model not in self.models:
            return None, error_response(
                404,
                f"model '{model}' not found, make sure the correct model ID was used and that you have "
                "access to the model.",
            )
        if self.queued:
            return None, self.queued.pop(0)
        return body, None

    def _embed(self, request: RecordedRequest) -> FakeResponse:
        body, refused = self._accept(request)
        if body is None:
            return refused  # type: ignore[return-value]
        texts = body.get("texts")
        if not isinstance(texts, list) or not texts:
            return error_response(400, "invalid request: texts must be a non-empty list of strings")
        if len(texts) > MAX_TEXTS:
            return error_response(
                400,
                f"invalid request: total number of texts must be at most {MAX_TEXTS} - received {len(texts)}",
            )
        if not body.get("input_type") and "v3" in body["model"]:
            return error_response(
                400, "invalid request: valid input_type must be provided with the provided model"
            )
        kinds = body.get("embedding_types") or ["float"]
        answer = {
            "id": "0c6b0f06-a3a8-4ab0-9d2c-0f36a4e7ab02",
            "embeddings": {kind: [fake_vector(t, kind) for t in texts] for kind in kinds},
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 3 * len(texts)}},
            "response_type": "embeddings_by_type",
        }
        return FakeResponse.json(answer, headers={"x-debug-trace-id": TRACE_ID})

    def _rerank(self, request: RecordedRequest) -> FakeResponse:
        body, refused = self._accept(request)
        if body is None:
            return refused  # type: ignore[return-value]
        documents = body.get("documents")
        if not isinstance(body.get("query"), str) or not isinstance(documents, list) or not documents:
            return error_response(400, "invalid request: query and documents are required")
        ranked = sorted(range(len(documents)), key=lambda i: (-_score(body["query"], documents[i]), i))[
            : body.get("top_n") or len(documents)
        ]
        results = []
        for i in ranked:
            item: dict[str, Any] = {"index": i, "relevance_score": _score(body["query"], documents[i])}
            if body.get("return_documents"):
                item["document"] = {"text": documents[i]}
            results.append(item)
        answer = {
            "id": "07734bd2-2473-4f07-94e1-0d9f0e6843cf",
            "results": results,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
        }
        return FakeResponse.json(answer, headers={"x-debug-trace-id": TRACE_ID})

    def _chat(self, request: RecordedRequest) -> FakeResponse:
        body, refused = self._accept(request)
        if body is None:
            return refused  # type: ignore[return-value]
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return error_response(400, "invalid request: messages must be a non-empty list")
        if body.get("stream"):
            return stream_response(stream_events(self.pieces), done=self.done_after_end)
        return FakeResponse.json(chat_answer(self.text), headers={"x-debug-trace-id": TRACE_ID})


def connector(
    base_url: str, task_type: str = "completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming a Cohere connector of `task_type` at `base_url`."""
    if task_type not in PATHS:
        raise ValueError(f"{task_type!r} is not a task type of this service: use one of {', '.join(PATHS)}")
    model = {"text_embedding": EMBED_MODEL, "rerank": RERANK_MODEL}.get(task_type, CHAT_MODEL)
    return {"model_id": model, "url": base_url + PATHS[task_type]}, {"api_key": secret}


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.connector(task)`; `python -m ai_connector.testing cohere --port N --task-type <task>`.
FAKE = fake_class("cohere", install=lambda server, key: FakeCohere(server, api_key=key), connector=connector)
