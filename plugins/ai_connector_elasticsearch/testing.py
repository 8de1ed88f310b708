"""A wire-exact fake of an Elasticsearch cluster's inference API for `"service": "elasticsearch"`
endpoints (models deployed on the cluster's ML nodes), on `ai_connector.testing.FakeServer`.

`FakeCluster` checks `Authorization: ApiKey <key>`, keeps endpoints in memory (`GET`/`PUT`/`DELETE
_inference/{task}/{id}`, `PUT .../_update`), starts with the preconfigured `.elser-2-elasticsearch`,
`.multilingual-e5-small-elasticsearch` and `.rerank-v1-elasticsearch`, validates what ES validates at
`PUT` (known model, task type of the model, `num_threads` a power of 2 up to 32), and answers inference
in ES's shapes. Errors use ES's envelope `{"error":{"root_cause","type","reason"},"status"}`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class

__all__ = [
    "FAKE",
    "MODELS",
    "PRECONFIGURED",
    "FakeCluster",
    "circuit_breaking",
    "connector",
    "es_error",
    "not_found",
    "queue_full",
    "security_exception",
]

# The built-in models (ElserModels, MULTILINGUAL_E5_SMALL_MODEL_ID, RERANKER_ID) and their task type.
MODELS: Mapping[str, str] = {
    ".elser_model_2": "sparse_embedding",
    ".elser_model_2_linux-x86_64": "sparse_embedding",
    ".multilingual-e5-small": "text_embedding",
    ".multilingual-e5-small_linux-x86_64": "text_embedding",
    ".rerank-v1": "rerank",
}
DEFAULT_MODEL: Mapping[str, str] = {
    "sparse_embedding": ".elser_model_2",
    "text_embedding": ".multilingual-e5-small",
    "rerank": ".rerank-v1",
}
# ES's default endpoints (ElasticsearchInternalService.defaultConfigIds).
PRECONFIGURED: Mapping[str, str] = {
    ".elser-2-elasticsearch": ".elser_model_2",
    ".multilingual-e5-small-elasticsearch": ".multilingual-e5-small",
    ".rerank-v1-elasticsearch": ".rerank-v1",
}
E5_DIMENSIONS = 384  # multilingual-e5-small's output size
_PATH = r"/_inference/(?P<task>[a-z_]+)/(?P<id>[^/]+)"
_UPDATE = _PATH + "/_update"
_WWW_AUTHENTICATE = ['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]


def es_error(status: int, error_type: str, reason: str, **extra: Any) -> FakeResponse:
    """ES's error envelope with that status."""
    cause = {"type": error_type, "reason": reason, **extra}
    body = {"error": {"root_cause": [cause], "type": error_type, "reason": reason, **extra}, "status": status}
    return FakeResponse.json(body, status=status)


def security_exception(path: str, *, missing: bool = False) -> FakeResponse:
    """ES's 401 for a missing or refused API key, with its challenges."""
    reason = (
        f"missing authentication credentials for REST request [{path}]"
        if missing
        else "unable to authenticate with provided credentials and anonymous access is not allowed "
        "for this request"
    )
    answer = es_error(401, "security_exception", reason, header={"WWW-Authenticate": _WWW_AUTHENTICATE})
    answer.headers = [("WWW-Authenticate", v) for v in _WWW_AUTHENTICATE]
    return answer


def not_found(inference_id: str) -> FakeResponse:
    """ES's 404 for an unknown inference endpoint."""
    return es_error(404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]")


def queue_full(model_id: str = ".elser_model_2") -> FakeResponse:
    """ML's 429 when a deployment's inference queue is full (retryable)."""
    return es_error(
        429,
        "status_exception",
        f"Trained model deployment [{model_id}] queue is full. Unable to execute command",
    )


def circuit_breaking() -> FakeResponse:
    """ES's 429 from the parent circuit breaker with PERMANENT durability (retrying does not help)."""
    return es_error(
        429,
        "circuit_breaking_exception",
        "[parent] Data too large, data for [<http_request>] would be [1073741930/1gb], which is larger "
        "than the limit of [1073741824/1gb]",
        bytes_wanted=1073741930,
        bytes_limit=1073741824,
        durability="PERMANENT",
    )


def _vector(text: str) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    return [round((seed[i % 32] - 128) / 256.0, 6) for i in range(E5_DIMENSIONS)]


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class FakeCluster:
    """An Elasticsearch cluster's inference API for the `elasticsearch` service, key-checked."""

    def __init__(self, server: FakeServer, *, api_key: str | None) -> None:
        self.server = server
        self.api_key = api_key
        self.endpoints: dict[tuple[str, str], dict[str, Any]] = {}
        for inference_id, model in PRECONFIGURED.items():
            self.add_endpoint(inference_id, MODELS[model], model_id=model)
        for method, handler in (("GET", self._get), ("DELETE", self._delete), ("POST", self._infer)):
            server.add(method, _PATH, self._authed(handler))
        server.add("PUT", _UPDATE, self._authed(self._update))
        server.add("PUT", _PATH, self._authed(self._put))

    def add_endpoint(self, inference_id: str, task_type: str, **service_settings: Any) -> dict[str, Any]:
        """Register an endpoint as `GET _inference` shows it."""
        settings = {
            "num_allocations": 1,
            "num_threads": 2,
            "model_id": DEFAULT_MODEL[task_type],
            **service_settings,
        }
        created = {
            "inference_id": inference_id,
            "task_type": task_type,
            "service": "elasticsearch",
            "service_settings": settings,
        }
        if task_type == "rerank":
            created["task_settings"] = {"return_documents": True}
        self.endpoints[(task_type, inference_id)] = created
        return created

    def _authed(self, handler: Any) -> Any:
        def answer(request: RecordedRequest) -> FakeResponse:
            if self.api_key is not None:
                header = request.headers.get("authorization")
                if header != f"ApiKey {self.api_key}":
                    return security_exception(request.path, missing=header is None)
            m = re.match(_PATH, request.path)
            assert m is not None
            return handler(request, m["task"], m["id"])

        return answer

    def _get(self, request: RecordedRequest, task: str, inference_id: str) -> FakeResponse:
        found = self.endpoints.get((task, inference_id))
        return not_found(inference_id) if found is None else FakeResponse.json({"endpoints": [found]})

    def _delete(self, request: RecordedRequest, task: str, inference_id: str) -> FakeResponse:
        if self.endpoints.pop((task, inference_id), None) is None:
            return not_found(inference_id)
        return FakeResponse.json({"acknowledged": True, "pipelines": [], "indexes": []})

    def _put(self, request: RecordedRequest, task: str, inference_id: str) -> FakeResponse:
        if (task, inference_id) in self.endpoints:
            return es_error(
                400,
                "resource_already_exists_exception",
                f"Inference endpoint [{inference_id}] already exists",
            )
        body = request.json()
        if body.get("service") != "elasticsearch":
            return es_error(400, "status_exception", f"Unknown service [{body.get('service')}]")
        settings = dict(body.get("service_settings") or {})
        unknown = sorted(set(settings) - {"model_id", "num_allocations", "num_threads"})
        if unknown:
            return es_error(
                400,
                "status_exception",
                f"Model configuration contains settings {unknown} unknown to the [elasticsearch] service",
            )
        model = settings.get("model_id")
        if not model:
            return es_error(
                400,
                "validation_exception",
                "Validation Failed: 1: [service_settings] does not contain the required setting [model_id];",
            )
        threads = settings.get("num_threads")
        if not isinstance(threads, int) or threads < 1 or threads > 32 or threads & (threads - 1):
            return es_error(
                400,
                "validation_exception",
                f"Validation Failed: 1: Invalid value [{threads}]. [num_threads] must be a power of 2 "
                "less than or equal to 32;",
            )
        if model not in MODELS:
            return es_error(404, "resource_not_found_exception", f"Could not find trained model [{model}]")
        if MODELS[model] != task:
            return es_error(
                400, "status_exception", f"Trained model [{model}] is not suitable for the [{task}] task type"
            )
        created = self.add_endpoint(inference_id, task, **settings)
        if body.get("task_settings"):
            created["task_settings"] = dict(body["task_settings"])
        return FakeResponse.json(created)

    def _update(self, request: RecordedRequest, task: str, inference_id: str) -> FakeResponse:
        found = self.endpoints.get((task, inference_id))
        if found is None:
            return not_found(inference_id)
        changes = dict(request.json().get("service_settings") or {})
        if set(changes) - {"num_allocations"}:
            return es_error(
                400, "validation_exception", "Validation Failed: 1: only [num_allocations] can be updated;"
            )
        found["service_settings"].update(changes)
        return FakeResponse.json({"endpoints": [found]})

    def _infer(self, request: RecordedRequest, task: str, inference_id: str) -> FakeResponse:
        found = self.endpoints.get((task, inference_id))
        if found is None:
            return not_found(inference_id)
        body = request.json()
        inputs = body.get("input")
        if not inputs:
            return es_error(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: Field [input] cannot be empty;",
            )
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if task == "text_embedding":
            return FakeResponse.json({"text_embedding": [{"embedding": _vector(t)} for t in texts]})
        if task == "sparse_embedding":
            items = [
                {"is_truncated": False, "embedding": {w: round(1.0 + len(w) / 10.0, 4) for w in _tokens(t)}}
                for t in texts
            ]
            return FakeResponse.json({"sparse_embedding": items})
        if not body.get("query"):
            return es_error(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: Field [query] cannot be empty;",
            )
        settings = {**found.get("task_settings", {}), **(body.get("task_settings") or {})}
        words = set(_tokens(body["query"]))
        scored = sorted(
            ((len(words & set(_tokens(t))) + 1.0 / (i + 2), i, t) for i, t in enumerate(texts)), reverse=True
        )
        results = [
            {
                "index": i,
                "relevance_score": round(score, 6),
                **({"text": t} if settings.get("return_documents") else {}),
            }
            for score, i, t in scored
        ]
        return FakeResponse.json({"rerank": results})


def connector(
    base_url: str, task_type: str = "text_embedding", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a connector on the cluster at `base_url`, with the
    built-in model of its task type (saving it creates the endpoint)."""
    settings = {"model_id": DEFAULT_MODEL.get(task_type, ".multilingual-e5-small"), "num_allocations": 1}
    return {**settings, "num_threads": 2, "url": base_url}, {"api_key": secret}


# The shared fake API: `FAKE(server=None, api_key=...)`, `.url`, `.requests`, `.fail()`, `.connector()`;
# `python -m ai_connector.testing elasticsearch --port N` serves one.
FAKE = fake_class(
    "elasticsearch", install=lambda server, key: FakeCluster(server, api_key=key), connector=connector
)
