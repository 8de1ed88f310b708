"""Elasticsearch's `custom` inference service: any REST model service described by templates, with
no code (x-pack/plugin/inference .../services/custom/: CustomServiceSettings, CustomRequest, the
response parsers).

A spec is ES's `service_settings` shape: `url`, `headers`, `query_parameters`, `request` (a JSON
body template), `response.json_parser` (JSONPath-like paths for the task type's results),
`response.error_parser.path` (where an error answer keeps its message) and `input_type`
(`translation`, `default`). Placeholders come from the secret parameters and the task settings'
`parameters`, plus `${input}`, `${query}`, `${input_type}`, `${top_n}` and `${return_documents}` in
the body. The built-in `custom` provider reads the spec from each connector's settings; a provider
file fixes it per task type and feeds its declared fields into the placeholders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ai_connector import fields
from ai_connector.context import CallContext
from ai_connector.errors import ConfigValidationError, FieldError, InvalidResponseError, error_for_status
from ai_connector.exchange import error_message
from ai_connector.hookspecs import hookimpl
from ai_connector.templates import TemplateError, json_path, substitute
from ai_connector.types import (
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    Provider,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    TaskType,
)

__all__ = [
    "CUSTOM_TASK_TYPES",
    "CustomCalls",
    "ai_connector_providers",
    "custom_provider",
    "custom_settings_schema",
    "query_pairs",
]

CUSTOM_TASK_TYPES = frozenset(
    {TaskType.TEXT_EMBEDDING, TaskType.SPARSE_EMBEDDING, TaskType.RERANK, TaskType.COMPLETION}
)
# ES's json_parser keys per task type (TextEmbeddingResponseParser, SparseEmbeddingResponseParser,
# RerankResponseParser, CompletionResponseParser).
PARSER_KEYS: Mapping[TaskType, tuple[str, ...]] = {
    TaskType.TEXT_EMBEDDING: ("text_embeddings",),
    TaskType.SPARSE_EMBEDDING: ("token_path", "weight_path"),
    TaskType.RERANK: ("relevance_score",),
    TaskType.COMPLETION: ("completion_result",),
}
_SECRET_PREFIX = "secret_parameters."

Spec = Mapping[str, Any]
SpecFn = Callable[[InferenceEndpoint], Spec]
ValuesFn = Callable[[InferenceEndpoint], dict[str, Any]]


def _str_map(title: str, description: str, **extra: Any) -> dict[str, Any]:
    return fields.field("object", title, description, additionalProperties={"type": "string"}, **extra)


def _path(title: str, description: str, task: str) -> dict[str, Any]:
    return fields.field("string", title, description, **{"x-task-types": [task]})


def custom_settings_schema() -> dict[str, Any]:
    """The `custom` service's settings as ES defines them (CustomServiceSettings, QueryParameters):
    `query_parameters` a list of `[key, value]` pairs (order kept, a key may repeat), `batch_size`
    a positive integer, and for text_embedding `similarity`, `dimensions`, `max_input_tokens`."""
    parser = fields.schema(
        {
            "text_embeddings": _path("Text embeddings", "Path to the embeddings.", "text_embedding"),
            "token_path": _path("Token path", "Path to the sparse tokens.", "sparse_embedding"),
            "weight_path": _path("Weight path", "Path to the sparse weights.", "sparse_embedding"),
            "relevance_score": _path("Relevance score", "Path to the scores.", "rerank"),
            "reranked_index": _path("Reranked index", "Path to the documents' indices.", "rerank"),
            "document_text": _path("Document text", "Path to the documents' texts.", "rerank"),
            "completion_result": _path("Completion result", "Path to the answer.", "completion"),
        }
    )
    parser["title"] = "JSON parser"
    error = fields.schema({"path": fields.field("string", "Error path", "Path to the error message.")})
    error["title"] = "Error parser"
    response = fields.schema({"json_parser": parser, "error_parser": error}, required=["json_parser"])
    response["title"] = "Response"
    input_type = fields.schema(
        {
            "translation": _str_map("Translation", "Kibana's input types mapped to the service's."),
            "default": fields.field("string", "Default", "The input type sent when none is given."),
        }
    )
    input_type["title"] = "Input type"
    return fields.schema(
        {
            "url": fields.url("The URL the request is sent to; may hold ${placeholders}."),
            "headers": _str_map("Headers", "Headers of the request; values may hold ${placeholders}."),
            "query_parameters": fields.field(
                "array",
                "Query parameters",
                'The query string as [key, value] pairs, e.g. [["version", "${api_version}"]]; '
                "values may hold ${placeholders}.",
                items={"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            ),
            "request": fields.field(
                "string",
                "Request",
                'The JSON body template, e.g. {"input": ${input}}.',
                **{"x-updatable": False},
            ),
            "response": response,
            "input_type": input_type,
            "dimensions": fields.field(
                "integer", "Dimensions", "The embeddings' size.", **{"x-task-types": ["text_embedding"]}
            ),
            "similarity": fields.field(
                "string",
                "Similarity",
                "The similarity measure of the embeddings (for the index that stores them).",
                enum=["cosine", "dot_product", "l2_norm"],
                **{"x-task-types": ["text_embedding"]},
            ),
            "max_input_tokens": fields.field(
                "integer",
                "Maximum input tokens",
                "The most tokens one input may have.",
                minimum=1,
                **{"x-task-types": ["text_embedding"]},
            ),
            # Elasticsearch batches its chunked (semantic_text) inference by it; a direct call, as
            # Kibana makes, sends every input in one request, as `_inference` does.
            "batch_size": fields.field(
                "integer",
                "Batch size",
                "Inputs per request when Elasticsearch chunks a document's text (default 10).",
                minimum=1,
                default=10,
            ),
            "rate_limit": fields.rate_limit(),
        },
        required=["url", "request", "response"],
    )


def _custom_auth_schema() -> dict[str, Any]:
    secrets = _str_map(
        "Secret parameters",
        "Secrets the templates use as ${name} (API keys...); stored encrypted, never shown.",
        **{"x-sensitive": True, "x-updatable": True},
    )
    return fields.schema({"secret_parameters": secrets})


def _task_settings_schema() -> dict[str, Any]:
    params = fields.field(
        "object",
        "Parameters",
        "Values the templates use as ${name}.",
        additionalProperties={"type": "string"},
    )
    return fields.schema({"parameters": params})


def query_pairs(spec: Spec) -> list[tuple[str, str]]:
    """A spec's query parameters as (key, value) pairs: ES's list of pairs, or a provider file's
    key -> value table."""
    given = spec.get("query_parameters") or ()
    pairs = list(given.items()) if isinstance(given, Mapping) else list(given)
    if not all(isinstance(p, list | tuple) and len(p) == 2 for p in pairs):
        raise ValueError("query_parameters must be [key, value] pairs")
    return [(str(k), str(v)) for k, v in pairs]


def _settings_spec(endpoint: InferenceEndpoint) -> Spec:
    return endpoint.settings


def _connector_values(endpoint: InferenceEndpoint) -> dict[str, Any]:
    """ES's placeholders for the built-in service: secret parameters, then task parameters."""
    values = {
        k[len(_SECRET_PREFIX) :]: v for k, v in endpoint.secrets.items() if k.startswith(_SECRET_PREFIX)
    }
    values.update(endpoint.task_settings.get("parameters") or {})
    return values


@dataclass(frozen=True)
class CustomCalls:
    """The calls of a templated service: `spec` gives the templates for an endpoint, `values` the
    placeholders its connector defines."""

    spec: SpecFn = _settings_spec
    values: ValuesFn = _connector_values
    extra_fields: tuple[str, ...] = field(default=())

    def _invalid(self, where: str, message: str) -> ConfigValidationError:
        return ConfigValidationError([FieldError(f"config.providerConfig.{where}", where, where, message)])

    async def _call(self, endpoint: InferenceEndpoint, ctx: CallContext, body_values: dict[str, Any]) -> Any:
        spec = self.spec(endpoint)
        values = self.values(endpoint)
        try:
            url = substitute(str(spec.get("url") or ""), values, "url", as_json=False)
            headers = {
                k: substitute(str(v), values, f"header.{k}", as_json=False)
                for k, v in (spec.get("headers") or {}).items()
            }
            params = [
                (k, substitute(v, values, f"query parameters: [{k}]", as_json=False))
                for k, v in query_pairs(spec)
            ]
            body = substitute(
                str(spec.get("request") or ""), {**values, **body_values}, "request", as_json=True
            )
        except TemplateError as exc:
            raise self._invalid("request", str(exc)) from None
        if not url:
            raise self._invalid("url", "URL is required")
        if not any(k.lower() == "content-type" for k in headers):
            headers = {"Content-Type": "application/json", **headers}  # ES's default; the user's wins
        resp = await ctx.request("POST", url, content=body, headers=headers, params=params or None)
        if resp.status_code >= 400:
            path = ((spec.get("response") or {}).get("error_parser") or {}).get("path")
            message = None
            if path:
                try:
                    message = str(json_path(resp.json(), path, "error message"))
                except (ValueError, InvalidResponseError):
                    message = None
            error = error_for_status(
                resp.status_code, message or error_message(resp.content), headers=resp.headers
            )
            raise error.redacted(ctx.redact)
        try:
            return resp.json()
        except ValueError:
            raise InvalidResponseError(
                f"{ctx.provider_id}: the answer is not JSON", status=resp.status_code
            ) from None

    def _paths(self, endpoint: InferenceEndpoint) -> Mapping[str, Any]:
        return ((self.spec(endpoint).get("response") or {}).get("json_parser")) or {}

    def _input_type(self, endpoint: InferenceEndpoint, given: str | None) -> str | None:
        spec = self.spec(endpoint).get("input_type") or {}
        translation: Mapping[str, str] = spec.get("translation") or {}
        if given is None:
            default: str | None = spec.get("default")
            return default
        return translation.get(given, given)

    async def completion(
        self, endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext
    ) -> list[str]:
        """`${input}` is the one input string; `completion_result` the answer (a string or a list)."""
        answer = await self._call(endpoint, ctx, {"input": request.input})
        found = json_path(answer, self._paths(endpoint).get("completion_result", "$"), "completion_result")
        texts = found if isinstance(found, list) else [found]
        if not all(isinstance(t, str) for t in texts):
            raise InvalidResponseError(f"{ctx.provider_id}: completion_result is not text")
        return texts

    async def text_embedding(
        self, endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
    ) -> list[list[float]]:
        """`${input}` is the list of inputs; `text_embeddings` one vector per input."""
        extra = {"input": list(request.input), "input_type": self._input_type(endpoint, request.input_type)}
        answer = await self._call(endpoint, ctx, extra)
        found = json_path(answer, self._paths(endpoint).get("text_embeddings", "$"), "text_embeddings")
        if found and all(isinstance(x, int | float) for x in found):
            found = [found]  # one input's vector, not wrapped
        try:
            vectors = [[float(x) for x in vector] for vector in found]
        except (TypeError, ValueError):
            raise InvalidResponseError(
                f"{ctx.provider_id}: text_embeddings is not a list of vectors"
            ) from None
        if len(vectors) != len(request.input):
            raise InvalidResponseError(
                f"{ctx.provider_id}: asked for {len(request.input)} embeddings, got {len(vectors)}"
            )
        return vectors

    async def sparse_embedding(
        self, endpoint: InferenceEndpoint, request: SparseEmbeddingRequest, ctx: CallContext
    ) -> list[dict[str, float]]:
        """`token_path` and `weight_path` give each input's tokens and their weights, side by side."""
        answer = await self._call(endpoint, ctx, {"input": list(request.input)})
        paths = self._paths(endpoint)
        tokens = json_path(answer, paths.get("token_path", "$"), "token_path")
        weights = json_path(answer, paths.get("weight_path", "$"), "weight_path")
        try:
            return [
                {str(t): float(w) for t, w in zip(ts, ws, strict=True)}
                for ts, ws in zip(tokens, weights, strict=True)
            ]
        except (TypeError, ValueError):
            raise InvalidResponseError(
                f"{ctx.provider_id}: sparse tokens and weights do not pair up"
            ) from None

    async def rerank(
        self, endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext
    ) -> list[RerankResult]:
        """`${query}`, `${input}`, `${top_n}`, `${return_documents}`; scores, and optionally the
        documents' indices and texts."""
        extra = {
            "query": request.query,
            "input": list(request.input),
            "top_n": request.top_n,
            "return_documents": request.return_documents,
        }
        answer = await self._call(endpoint, ctx, extra)
        paths = self._paths(endpoint)
        scores = json_path(answer, paths.get("relevance_score", "$"), "relevance_score")
        indices = (
            json_path(answer, paths["reranked_index"], "reranked_index")
            if paths.get("reranked_index")
            else None
        )
        texts = (
            json_path(answer, paths["document_text"], "document_text") if paths.get("document_text") else None
        )
        try:
            return [
                RerankResult(
                    index=int(indices[i]) if indices is not None else i,
                    score=float(score),
                    text=None if texts is None else str(texts[i]),
                )
                for i, score in enumerate(scores)
            ]
        except (TypeError, ValueError, IndexError):
            raise InvalidResponseError(
                f"{ctx.provider_id}: the rerank answer's paths do not line up"
            ) from None

    def urls(self, endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
        """The URL the connector calls (placeholders filled), for the allowedHosts check at save."""
        try:
            return [
                substitute(
                    str(self.spec(endpoint).get("url") or ""), self.values(endpoint), "url", as_json=False
                )
            ]
        except TemplateError:
            return []


def custom_provider() -> Provider:
    """ES's `custom` service (name "Custom"): every connector brings its own templates."""
    calls = CustomCalls()
    task_settings = _task_settings_schema()
    return Provider(
        id="custom",
        name="Custom",
        task_types=CUSTOM_TASK_TYPES,
        settings_schema=custom_settings_schema(),
        auth_schema=_custom_auth_schema(),
        task_settings_schemas={task: task_settings for task in CUSTOM_TASK_TYPES},
        completion=calls.completion,
        text_embedding=calls.text_embedding,
        sparse_embedding=calls.sparse_embedding,
        rerank=calls.rerank,
        urls=calls.urls,
        default_requests_per_minute={task: 10_000 for task in CUSTOM_TASK_TYPES},  # ES's default
        description="Any REST model service, described by a request template and response paths.",
        docs_url="https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-inference-put-custom",
    )


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the `custom` service: a connector whose provider is `custom` needs no plugin."""
    return [custom_provider()]
