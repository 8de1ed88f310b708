"""A wire-exact fake of an Elasticsearch deployment's inference API, as EIS connectors use it, built
on `ai_connector.testing.FakeServer`.

`FakeElasticsearch` keeps inference endpoints in memory (`GET`/`PUT`/`DELETE _inference/{task}/{id}`),
checks `Authorization: ApiKey <key>` on every request, and answers inference calls in ES's shapes:
`{"completion":[{"result"}]}`, `{"text_embedding":[{"embedding"}]}`, `{"sparse_embedding":[{token:
weight}]}`, `{"rerank":[{"index","relevance_score","text"}]}` and the chat `_stream` (`event: message`
+ OpenAI chunks, bare or wrapped in `chat_completion`, then `[DONE]`). Errors use ES's envelope
`{"error":{"root_cause","type","reason"},"status"}`; queue one-off answers with `then()`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "FakeElasticsearch",
    "chat_chunks",
    "connector",
    "es_error_body",
    "es_error_response",
    "not_found",
    "security_exception",
    "serve_chat",
    "stream_response",
]

DEFAULT_API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="  # ES docs' example
DEFAULT_MODELS: Mapping[str, str] = {
    "chat_completion": "rainbow-sprinkles",
    "completion": "rainbow-sprinkles",
    "text_embedding": "multilingual-embed-v1",
    "sparse_embedding": "elser_model_2",
    "rerank": "elastic-rerank-v1",
}
# Service settings ES's elastic service knows, per task type (others are refused at PUT).
_KNOWN_SETTINGS: Mapping[str, frozenset[str]] = {
    "chat_completion": frozenset({"model_id"}),
    "completion": frozenset({"model_id"}),
    "text_embedding": frozenset({"model_id", "max_input_tokens"}),
    "sparse_embedding": frozenset({"model_id", "max_input_tokens", "max_batch_size"}),
    "rerank": frozenset({"model_id"}),
}
_WWW_AUTHENTICATE = ['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]
_ENDPOINT_PATH = re.compile(r"/_inference/(?P<task>[a-z_]+)/(?P<id>[^/]+)")
_STREAM_PATH = re.compile(r"/_inference/chat_completion/(?P<id>[^/]+)/_stream")
_SSE_TYPE = "text/event-stream;charset=utf-8"


def es_error_body(status: int, error_type: str, reason: str, **extra: Any) -> dict[str, Any]:
    """ES's error envelope: `{"error":{"root_cause":[{type,reason}],"type","reason",...},"status"}`."""
    cause = {"type": error_type, "reason": reason, **extra}
    return {"error": {"root_cause": [cause], "type": error_type, "reason": reason, **extra}, "status": status}


def es_error_response(status: int, error_type: str, reason: str, **extra: Any) -> FakeResponse:
    """An ES error answer."""
    return FakeResponse.json(es_error_body(status, error_type, reason, **extra), status=status)


def security_exception(path: str, *, missing: bool = False) -> FakeResponse:
    """ES's 401 for a refused (or missing) API key, with its WWW-Authenticate challenges."""
    reason = (
        f"missing authentication credentials for REST request [{path}]"
        if missing
        else "unable to authenticate with provided credentials and anonymous access is not allowed "
        "for this request"
    )
    body = es_error_body(401, "security_exception", reason, header={"WWW-Authenticate": _WWW_AUTHENTICATE})
    headers = [("WWW-Authenticate", v) for v in _WWW_AUTHENTICATE]
    return FakeResponse(status=401, body=body, headers=headers, content_type="application/json")


def not_found(inference_id: str) -> FakeResponse:
    """ES's 404 for an unknown inference endpoint."""
    return es_error_response(
        404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]"
    )


def chat_chunks(
    pieces: Sequence[str],
    *,
    model: str = "rainbow-sprinkles",
    prompt_tokens: int = 5,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    role: bool = True,
) -> list[dict[str, Any]]:
    """OpenAI `chat.completion.chunk`s as ES streams them: the text, a finish chunk, a usage chunk."""
    base = {"id": "chatcmpl-fakeEIS0001", "object": "chat.completion.chunk", "model": model}
    chunks = []
    for i, piece in enumerate(pieces):
        delta: dict[str, Any] = {"content": piece}
        if i == 0 and role:
            delta["role"] = "assistant"
        chunks.append({**base, "choices": [{"delta": delta, "index": 0}]})
    chunks.append({**base, "choices": [{"delta": {}, "finish_reason": finish_reason, "index": 0}]})
    usage = {
        "completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    chunks.append({**base, "choices": [], "usage": usage})
    return chunks


def stream_response(
    chunks: Iterable[Mapping[str, Any] | str],
    *,
    wrapped: bool = False,
    done: bool = True,
    abort_after: int | None = None,
) -> FakeResponse:
    """An ES `_stream` answer: each chunk as `event: message` + `data:` (wrapped in `chat_completion`
    when asked; strings are sent as the data verbatim), then `data: [DONE]` unless `done` is False."""
    events = []
    for chunk in chunks:
        if isinstance(chunk, str):
            data = chunk
        else:
            data = json.dumps({"chat_completion": chunk} if wrapped else chunk)
        events.append(f"event: message\ndata: {data}\n\n")
    if done:
        events.append("event: message\ndata: [DONE]\n\n")
    return FakeResponse(chunks=events, abort_after=abort_after, content_type=_SSE_TYPE)


def _sparse(text: str) -> dict[str, float]:
    return {word: round(1.0 + len(word) / 10.0, 3) for word in re.findall(r"[a-z0-9]+", text.lower())}


class FakeElasticsearch:
    """An Elasticsearch inference API on a FakeServer: endpoint CRUD and inference, key-checked."""

    def __init__(
        self,
        server: FakeServer,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        pieces: Sequence[str] = ("Hello", " there"),
        completion_text: str = "Elastic is a search company.",
        wrap_chunks: bool = False,
        quote_scores: bool = False,
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.pieces = list(pieces)
        self.completion_text = completion_text
        self.wrap_chunks = wrap_chunks
        self.quote_scores = quote_scores
        self.endpoints: dict[tuple[str, str], dict[str, Any]] = {}
        self.queued: list[FakeResponse] = []
        server.add("GET", _ENDPOINT_PATH.pattern, self._get)
        server.add("PUT", _ENDPOINT_PATH.pattern, self._put)
        server.add("DELETE", _ENDPOINT_PATH.pattern, self._delete)
        server.add("POST", _ENDPOINT_PATH.pattern, self._infer)
        server.add("POST", _STREAM_PATH.pattern, self._stream)

    def add_endpoint(self, inference_id: str, task_type: str, **service_settings: Any) -> None:
        """Register an existing inference endpoint (e.g. a preconfigured `.elser-2-elastic`)."""
        settings = {"model_id": DEFAULT_MODELS[task_type], **service_settings}
        self.endpoints[(task_type, inference_id)] = {
            "inference_id": inference_id,
            "task_type": task_type,
            "service": "elastic",
            "service_settings": settings,
        }

    def then(self, response: FakeResponse) -> None:
        """Answer the next inference call (after the key and endpoint checks) with `response`."""
        self.queued.append(response)

    # -- handlers -------------------------------------------------------------------------------
    def _auth(self, request: RecordedRequest) -> FakeResponse | None:
        if self.api_key is None:
            return None
        header = request.headers.get("authorization")
        if header is None:
            return security_exception(request.path, missing=True)
        if header != f"ApiKey {self.api_key}":
            return security_exception(request.path)
        return None

    def _get(self, request: RecordedRequest) -> FakeResponse:
        refused = self._auth(request)
        if refused is not None:
            return refused
        m = _ENDPOINT_PATH.fullmatch(request.path)
        assert m is not None
        found = self.endpoints.get((m["task"], m["id"]))
        return not_found(m["id"]) if found is None else FakeResponse.json({"endpoints": [found]})

    def _put(self, request: RecordedRequest) -> FakeResponse:
        refused = self._auth(request)
        if refused is not None:
            return refused
        m = _ENDPOINT_PATH.fullmatch(request.path)
        assert m is not None
        task, inference_id = m["task"], m["id"]
        if (task, inference_id) in self.endpoints:
            return es_error_response(
                400,
                "resource_already_exists_exception",
                f"Inference endpoint [{inference_id}] already exists",
            )
        body = request.json()
        if body.get("service") != "elastic":
            return es_error_response(400, "status_exception", f"Unknown service [{body.get('service')}]")
        settings = body.get("service_settings") or {}
        unknown = sorted(set(settings) - _KNOWN_SETTINGS.get(task, frozenset()))
        if unknown:
            return es_error_response(
                400,
                "status_exception",
                f"Model configuration contains settings {unknown} unknown to the [elastic] service",
            )
        if not settings.get("model_id"):
            return es_error_response(
                400,
                "validation_exception",
                "Validation Failed: 1: [service_settings] does not contain the required setting [model_id];",
            )
        created = {
            "inference_id": inference_id,
            "task_type": task,
            "service": "elastic",
            "service_settings": settings,
        }
        self.endpoints[(task, inference_id)] = created
        return FakeResponse.json(created)

    def _delete(self, request: RecordedRequest) -> FakeResponse:
        refused = self._auth(request)
        if refused is not None:
            return refused
        m = _ENDPOINT_PATH.fullmatch(request.path)
        assert m is not None
        if self.endpoints.pop((m["task"], m["id"]), None) is None:
            return not_found(m["id"])
        return FakeResponse.json({"acknowledged": True, "pipelines": [], "indexes": []})

    def _checked(self, request: RecordedRequest, task: str, inference_id: str) -> FakeResponse | None:
        refused = self._auth(request)
        if refused is not None:
            return refused
        if (task, inference_id) not in self.endpoints:
            return not_found(inference_id)
        if self.queued:
            return self.queued.pop(0)
        return None

    def _infer(self, request: RecordedRequest) -> FakeResponse:
        m = _ENDPOINT_PATH.fullmatch(request.path)
        assert m is not None
        task = m["task"]
        answer = self._checked(request, task, m["id"])
        if answer is not None:
            return answer
        body = request.json()
        inputs = body.get("input")
        if not inputs:
            return es_error_response(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: Field [input] cannot be empty;",
            )
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if task == "completion":
            return FakeResponse.json({"completion": [{"result": self.completion_text}]})
        if task == "text_embedding":
            vectors = [{"embedding": [round(len(t) / 100.0, 4), 0.0185, -0.0368]} for t in texts]
            return FakeResponse.json({"text_embedding": vectors})
        if task == "sparse_embedding":
            return FakeResponse.json({"sparse_embedding": [_sparse(t) for t in texts]})
        if task == "rerank":
            if not body.get("query"):
                return es_error_response(
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: Field [query] cannot be empty;",
                )
            words = set(_sparse(body["query"]))
            scored = [(len(words & set(_sparse(t))) + 1.0 / (i + 2), i, t) for i, t in enumerate(texts)]
            scored.sort(reverse=True)
            results = [
                {"index": i, "relevance_score": str(score) if self.quote_scores else score, "text": t}
                for score, i, t in scored
            ]
            return FakeResponse.json({"rerank": results})
        return es_error_response(400, "status_exception", f"Unsupported task type [{task}]")

    def _stream(self, request: RecordedRequest) -> FakeResponse:
        m = _STREAM_PATH.fullmatch(request.path)
        assert m is not None
        answer = self._checked(request, "chat_completion", m["id"])
        if answer is not None:
            return answer
        body = request.json()
        if not body.get("messages"):
            return es_error_response(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: Field [messages] cannot be empty;",
            )
        model = self.endpoints[("chat_completion", m["id"])]["service_settings"]["model_id"]
        return stream_response(chat_chunks(self.pieces, model=model), wrapped=self.wrap_chunks)


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming an EIS connector at the Elasticsearch at `base_url`."""
    settings = {"model_id": DEFAULT_MODELS.get(task_type, "rainbow-sprinkles"), "url": base_url}
    return settings, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Stream `pieces` from any `_inference/chat_completion/{id}/_stream` called with an ApiKey,
    ending with finish reason "stop" and that usage."""

    def answer(request: RecordedRequest) -> FakeResponse:
        if not request.headers.get("authorization", "").startswith("ApiKey "):
            return security_exception(request.path, missing=True)
        chunks = chat_chunks(pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return stream_response(chunks)

    server.add("POST", _STREAM_PATH.pattern, answer)


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.stream()`, `.connector()`; `python -m ai_connector.testing elastic --port N` serves one.
FAKE = fake_class(
    "elastic",
    install=lambda server, key: FakeElasticsearch(server, api_key=key),
    connector=connector,
    serve_chat=serve_chat,
)
