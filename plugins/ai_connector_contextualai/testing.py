"""A wire-exact fake of Contextual AI's rerank API for tests, on `ai_connector.testing.FakeServer`.

`FakeContextual` serves `POST /v1/rerank`: it checks the bearer key, the JSON body (`query`,
`documents`, `model`, optional `top_n` and `instruction`) and the model, and answers
`{"results": [{"index", "relevance_score"}]}` best first. Errors are FastAPI bodies
(`{"detail": "..."}`, a 422 `detail` list for a bad field) or, as gateways send them, an empty body
that leaves only the status line. Queue one-off answers with `then()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class

__all__ = ["DEFAULT_API_KEY", "FAKE", "MODEL", "PATH", "FakeContextual", "connector", "error_response"]

DEFAULT_API_KEY = "key-fakecontextual0000000000"
MODEL = "ctxl-rerank-v2-instruct-multilingual"
PATH = "/v1/rerank"
_DETAILS: Mapping[int, str] = {
    400: "Bad request",
    401: "Invalid API key",
    403: "Forbidden",
    429: "Rate limit exceeded",
    500: "Internal server error",
}


def error_response(
    status: int, detail: str | None = None, *, retry_after: int | None = None, empty: bool = False
) -> FakeResponse:
    """A `{"detail": "..."}` error answer, or with `empty` one with no body at all."""
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    if empty:
        return FakeResponse(status=status, headers=headers)
    return FakeResponse.json(
        {"detail": detail or _DETAILS.get(status, "error")}, status=status, headers=headers
    )


def _score(query: str, document: str) -> float:
    words = set(query.lower().split())
    hits = sum(1 for w in document.lower().split() if w in words)
    return round(0.05 + hits / (len(document.split()) or 1) * 0.9, 6)


class FakeContextual:
    """Contextual AI's rerank endpoint on a FakeServer, checking each request."""

    def __init__(
        self, server: FakeServer, *, api_key: str = DEFAULT_API_KEY, models: Sequence[str] = (MODEL,)
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.models = list(models)
        self.queued: list[FakeResponse] = []
        server.add("POST", PATH, self._rerank)

    def then(self, response: FakeResponse) -> None:
        """Answer the next accepted request with `response` (after the key and body checks)."""
        self.queued.append(response)

    def _rerank(self, request: RecordedRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error_response(401)
        try:
            body = request.json()
        except ValueError:
            body = None
        if not (
            isinstance(body, dict)
            and isinstance(body.get("query"), str)
            and isinstance(body.get("documents"), list)
        ):
            detail = [{"type": "missing", "loc": ["body", "documents"], "msg": "Field required"}]
            return FakeResponse.json({"detail": detail}, status=422)
        if body.get("model") not in self.models:
            return error_response(400, f"Invalid model: {body.get('model')}")
        if self.queued:
            return self.queued.pop(0)
        query, documents = body["query"], body["documents"]
        ranked = sorted(range(len(documents)), key=lambda i: (-_score(query, documents[i]), i))
        top = ranked[: body.get("top_n") or len(documents)]
        return FakeResponse.json(
            {"results": [{"index": i, "relevance_score": _score(query, documents[i])} for i in top]}
        )


def connector(
    base_url: str, task_type: str = "rerank", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming a Contextual AI connector at `base_url`."""
    if task_type != "rerank":
        raise ValueError(f"{task_type!r} is not a task type of this service: use rerank")
    return {"model_id": MODEL, "url": base_url + PATH}, {"api_key": secret}


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.connector(task)`; `python -m ai_connector.testing contextualai --port N --task-type rerank`.
FAKE = fake_class(
    "contextualai", install=lambda server, key: FakeContextual(server, api_key=key), connector=connector
)
