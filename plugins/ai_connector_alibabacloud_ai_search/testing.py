"""A wire-exact fake of Alibaba Cloud's AI Search Open Platform model services on a `FakeServer`.

Routes `POST /v3/openapi/workspaces/<workspace>/<text-embedding|text-sparse-embedding|ranker|
text-generation>/<service_id>`, checks `Authorization: Bearer <key>`, answers in the platform's
envelope `{"request_id","latency","usage","result"}`, and fails as the platform's status-code table
says (`InvalidParameter` 400, `ServiceIdNotExist` 400, `Throttling`/`Throttling.RateQuota`/
`Throttling.AllocationQuota` 429, `InternalServerError` 500) with `{"request_id","latency","code",
"message"}`. The 401 body's code for a bad key (`InvalidApiKey`) is not in that table: an assumption.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class

__all__ = ["FAKE", "SERVICES", "WORKSPACE", "FakeAISearch", "connector", "search_error"]

WORKSPACE = "default"
# The platform's service ids per path (ES's AlibabaCloudSearch docs list these).
SERVICES: dict[str, frozenset[str]] = {
    "text-embedding": frozenset(
        {
            "ops-text-embedding-001",
            "ops-text-embedding-zh-001",
            "ops-text-embedding-en-001",
            "ops-text-embedding-002",
        }
    ),
    "text-sparse-embedding": frozenset({"ops-text-sparse-embedding-001"}),
    "ranker": frozenset({"ops-bge-reranker-larger"}),
    "text-generation": frozenset(
        {"ops-qwen-turbo", "qwen-turbo", "qwen-plus", "qwen-max", "qwen-max-longcontext"}
    ),
}
DEFAULT_SERVICE = {
    "text_embedding": "ops-text-embedding-001",
    "sparse_embedding": "ops-text-sparse-embedding-001",
    "rerank": "ops-bge-reranker-larger",
    "completion": "ops-qwen-turbo",
}
_ROUTE = r"/v3/openapi/workspaces/(?P<ws>[^/]+)/(?P<path>[a-z-]+)/(?P<sid>[^/]+)"


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def search_error(status: int, code: str, message: str) -> FakeResponse:
    """The platform's error body with that status."""
    return FakeResponse.json(
        {"request_id": _request_id(), "latency": 0, "code": code, "message": message}, status
    )


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class FakeAISearch:
    """The model services of one AI Search workspace, key-checked."""

    def __init__(
        self, server: FakeServer, *, api_key: str, completion_text: str = "Qwen says hello."
    ) -> None:
        self.api_key = api_key
        self.completion_text = completion_text
        server.add("POST", _ROUTE, self._answer)

    def _answer(self, request: RecordedRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return search_error(401, "InvalidApiKey", "Invalid api key, please check your api key.")
        m = re.fullmatch(_ROUTE, request.path)
        assert m is not None
        if m["ws"] != WORKSPACE or m["sid"] not in SERVICES.get(m["path"], ()):
            return search_error(400, "ServiceIdNotExist", "service_id is not exist.")
        try:
            body = request.json()
        except ValueError:
            return search_error(400, "InvalidParameter", "JSON parse error")
        result, tokens = getattr(self, "_" + m["path"].replace("-", "_"))(body)
        if result is None:
            return search_error(
                400,
                "InvalidParameter",
                "Required parameter(s) missing or invalid, please check the request parameters.",
            )
        return FakeResponse.json(
            {"request_id": _request_id(), "latency": 25, "usage": {"token_count": tokens}, "result": result}
        )

    def _text_embedding(self, body: dict[str, Any]) -> tuple[Any, int]:
        inputs = body.get("input")
        if (
            not isinstance(inputs, list)
            or not inputs
            or body.get("input_type", "document") not in ("document", "query")
        ):
            return None, 0
        items = [
            {"index": i, "embedding": [round(len(t) / 100.0, 4), -0.0212, 0.0345]}
            for i, t in enumerate(inputs)
        ]
        return {"embeddings": items}, sum(len(_tokens(t)) for t in inputs)

    def _text_sparse_embedding(self, body: dict[str, Any]) -> tuple[Any, int]:
        inputs = body.get("input")
        if not isinstance(inputs, list) or not inputs:
            return None, 0
        with_text = bool(body.get("return_token"))
        items = [
            {
                "index": i,
                "embedding": [
                    {
                        "token_id": 1000 + sum(map(ord, w)),
                        "weight": round(0.1 + len(w) / 50.0, 4),
                        **({"token": w} if with_text else {}),
                    }
                    for w in _tokens(t)
                ],
            }
            for i, t in enumerate(inputs)
        ]
        return {"sparse_embeddings": items}, sum(len(_tokens(t)) for t in inputs)

    def _ranker(self, body: dict[str, Any]) -> tuple[Any, int]:
        query, docs = body.get("query"), body.get("docs")
        if not query or not isinstance(docs, list) or not docs:
            return None, 0
        words = set(_tokens(query))
        scores = [
            {"index": i, "score": round(len(words & set(_tokens(d))) + 1.0 / (i + 2), 6)}
            for i, d in enumerate(docs)
        ]
        scores.sort(key=lambda s: s["score"], reverse=True)
        return {"scores": scores}, sum(len(_tokens(d)) for d in docs)

    def _text_generation(self, body: dict[str, Any]) -> tuple[Any, int]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
            return None, 0
        return {"text": self.completion_text}, 12


def connector(base_url: str, task_type: str, *, secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming a connector at the fake at `base_url`."""
    schema, host = base_url.split("://", 1)
    settings = {
        "service_id": DEFAULT_SERVICE.get(task_type, DEFAULT_SERVICE["completion"]),
        "host": host,
        "http_schema": schema,
        "workspace": WORKSPACE,
    }
    return settings, {"api_key": secret}


# The shared fake API; `python -m ai_connector.testing alibabacloud-ai-search --port N` serves one.
FAKE = fake_class(
    "alibabacloud-ai-search",
    install=lambda server, key: FakeAISearch(server, api_key=key),
    connector=connector,
)
