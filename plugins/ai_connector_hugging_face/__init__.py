"""The Hugging Face provider (`hugging_face`): an Inference Endpoint's (TGI / TEI) chat completion
(streamed), completion, text and sparse embedding and rerank, on the OpenAI-compatible kit.

Fields are Elasticsearch's `hugging_face` service: `url` (the endpoint, as given), `api_key`,
`rate_limit` (default 3000/min), and SPEC's optional `model_id` (sent for chat only); rerank task
settings `return_documents`, `top_n`. Chat speaks OpenAI's wire; embeddings, sparse embeddings and
rerank Hugging Face's (`{"inputs": [...]}`, TEI's `/rerank`). Errors are `{"error": "..."}`; a
model still loading answers 503 with `estimated_time`, the retry hint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    OpenAICompatible,
    Provider,
    ProviderError,
    RateLimitError,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    TaskType,
    error_for_status,
    fields,
    hookimpl,
    openai_kit,
)

__all__ = ["PROVIDER", "ai_connector_providers"]


class HuggingFace(OpenAICompatible):
    """An Inference Endpoint at the connector's URL."""

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """`{"error": "..."}` (or OpenAI's object); a loading model's `estimated_time` is the retry hint."""
        message = openai_kit.openai_error_fields(body)[0]
        try:
            wait = json.loads(body).get("estimated_time")
        except (ValueError, AttributeError):
            wait = None
        hint = float(wait) if isinstance(wait, (int, float)) else None
        if status == 402:  # monthly credits spent: waiting will not restore them
            return error_for_status(status, message, headers=headers, cls=RateLimitError, retryable=False)
        return error_for_status(status, message, headers=headers, retry_after=hint)

    def settings_schema(self) -> dict[str, Any]:
        """The hugging_face service's fields."""
        return fields.schema(
            {
                "url": fields.url("The URL endpoint to use for the requests."),
                "model_id": fields.model_id(task_types=[TaskType.CHAT_COMPLETION, TaskType.COMPLETION]),
                "rate_limit": fields.rate_limit(),
            },
            required=["url"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """Rerank's `return_documents` and `top_n` (HuggingFaceRerankTaskSettings)."""
        return {
            TaskType.RERANK: fields.schema(
                {
                    "return_documents": fields.field(
                        "boolean",
                        "Return Documents",
                        "Whether to return the source documents in the response.",
                    ),
                    "top_n": fields.field(
                        "integer", "Top N", "The number of most relevant documents to return.", minimum=1
                    ),
                }
            )
        }

    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """The `url` setting as given."""
        return fields.require(endpoint, "url", "URL")

    def model(self, endpoint: InferenceEndpoint, override: str | None = None) -> str:
        """The model, when there is one: the endpoint's URL chooses it otherwise."""
        return override or endpoint.settings.get("model_id") or ""

    async def text_embedding(
        self, endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
    ) -> list[list[float]]:
        """`{"inputs": [...]}` in; `[[...]]` or `{"embeddings": [[...]]}` out."""
        answer = await self._post(endpoint, {"inputs": list(request.input)}, ctx)
        vectors = answer.get("embeddings") if isinstance(answer, Mapping) else answer
        try:
            out = [[float(x) for x in v] for v in vectors or ()]
        except (TypeError, ValueError):
            raise InvalidResponseError("the embeddings answer is not a list of vectors") from None
        if len(out) != len(request.input):
            raise InvalidResponseError(f"asked for {len(request.input)} embeddings, got {len(out)}")
        return out

    async def sparse_embedding(
        self, endpoint: InferenceEndpoint, request: SparseEmbeddingRequest, ctx: CallContext
    ) -> list[dict[str, float]]:
        """`{"inputs": [...]}` in; one `{token: weight}` map per input out (ELSER on an endpoint)."""
        answer = await self._post(endpoint, {"inputs": list(request.input)}, ctx)
        try:
            out = [{str(k): float(w) for k, w in item.items()} for item in answer]
        except (TypeError, ValueError, AttributeError):
            raise InvalidResponseError("the answer is not a list of {token: weight} maps") from None
        if len(out) != len(request.input):
            raise InvalidResponseError(f"asked for {len(request.input)} embeddings, got {len(out)}")
        return out

    async def rerank(
        self, endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext
    ) -> list[RerankResult]:
        """TEI's rerank: an array of `{index, score | relevance_score, text?}`, best first, top_n kept."""
        settings = endpoint.task_settings
        top_n = request.top_n or settings.get("top_n")
        docs = settings.get("return_documents", request.return_documents)
        body: dict[str, Any] = {
            "query": request.query,
            "documents": list(request.input),
            "return_documents": docs,
        }
        if top_n:
            body["top_n"] = top_n
        answer = await self._post(endpoint, body, ctx)
        try:
            results = [
                RerankResult(
                    index=int(item["index"]),
                    score=float(item["score"] if "score" in item else item["relevance_score"]),
                    text=(item.get("text") or (item.get("document") or {}).get("text")) if docs else None,
                )
                for item in answer
            ]
        except (TypeError, ValueError, KeyError, AttributeError):
            raise InvalidResponseError("the rerank answer is not a list of {index, score}") from None
        return sorted(results, key=lambda r: -r.score)[: top_n or None]


PROVIDER = HuggingFace(
    id="hugging_face",
    name="Hugging Face",
    task_types=tuple(TaskType),  # all five
    default_requests_per_minute=dict.fromkeys(TaskType, 3000),
    description="A Hugging Face Inference Endpoint (TGI chat, TEI embeddings and rerank).",
    docs_url="https://huggingface.co/docs/inference-endpoints",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Hugging Face provider."""
    return [PROVIDER]
