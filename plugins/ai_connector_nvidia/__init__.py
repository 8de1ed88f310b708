"""The NVIDIA provider (`nvidia`): NVIDIA NIM / API Catalog chat completion (streamed), completion,
text embedding and rerank, on the OpenAI-compatible kit.

Fields are Elasticsearch's `nvidia` service (NvidiaService.Configuration): `url` (the full endpoint;
by default the task's URL on integrate.api.nvidia.com / ai.api.nvidia.com), `model_id`, `api_key`,
`rate_limit` (default 3000/min); text_embedding task settings `input_type` and `truncate`. Chat and
embeddings speak OpenAI's wire (embeddings add `input_type`: `passage` or `query`); rerank is NIM's
`{"query": {"text"}, "passages": [{"text"}]}` -> `{"rankings": [{"index", "logit"}]}`.
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
    TaskType,
    error_for_status,
    fields,
    hookimpl,
    openai_kit,
)

__all__ = ["DEFAULT_URLS", "PROVIDER", "ai_connector_providers"]

# SPEC NvidiaServiceSettings: the default URL of each task type.
DEFAULT_URLS = {
    TaskType.TEXT_EMBEDDING: "https://integrate.api.nvidia.com/v1/embeddings",
    TaskType.COMPLETION: "https://integrate.api.nvidia.com/v1/chat/completions",
    TaskType.CHAT_COMPLETION: "https://integrate.api.nvidia.com/v1/chat/completions",
    TaskType.RERANK: "https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking",
}
_INPUT_TYPES = {"ingest": "passage", "search": "query"}


class Nvidia(OpenAICompatible):
    """NVIDIA's endpoints: a URL per task type, `input_type` on embeddings, NIM's rerank."""

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """NVIDIA's problem details (`{"status", "title", "detail"}`), else OpenAI's shape; a 402 (credits
        spent) is a quota that waiting will not restore."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or "title" not in data:
            return openai_kit.parse_error(status, headers, body)
        message = ": ".join(str(data[k]) for k in ("title", "detail") if data.get(k))
        if status == 402:
            return error_for_status(status, message, headers=headers, cls=RateLimitError, retryable=False)
        return error_for_status(status, message, headers=headers)

    def settings_schema(self) -> dict[str, Any]:
        """NvidiaService.Configuration's fields."""
        model = (
            "The name of the model to use for the inference task. "
            "Refer to the NVIDIA models documentation for the list of available models."
        )
        return fields.schema(
            {
                "url": fields.url("The URL endpoint to use for the requests."),
                "model_id": fields.model_id(model),
                "rate_limit": fields.rate_limit(),
            },
            required=["model_id"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """Embeddings' `input_type` and `truncate` (NvidiaTaskSettings)."""
        input_type = fields.field(
            "string",
            "Input Type",
            "The type of input: ingest (a passage) or search (a query).",
            enum=["ingest", "search"],
        )
        truncate = fields.field(
            "string",
            "Truncate",
            "How to truncate inputs longer than the model's limit.",
            enum=["END", "NONE", "START"],
        )
        return {TaskType.TEXT_EMBEDDING: fields.schema({"input_type": input_type, "truncate": truncate})}

    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """The `url` setting as given, else the task's default URL."""
        return endpoint.settings.get("url") or DEFAULT_URLS[endpoint.task_type]

    def embedding_body(self, endpoint: InferenceEndpoint, request: EmbeddingRequest) -> dict[str, Any]:
        """OpenAI's body plus `input_type` (the request's, else the task setting's; `query` by
        default) and `truncate` when set."""
        settings = endpoint.task_settings
        kind = request.input_type or settings.get("input_type") or "search"
        body = {
            "input": list(request.input),
            "model": self.model(endpoint),
            "input_type": _INPUT_TYPES.get(kind, kind),
        }
        if truncate := settings.get("truncate"):
            body["truncate"] = truncate
        return body

    async def rerank(
        self, endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext
    ) -> list[RerankResult]:
        """NIM's reranking: the logit is the score; best first, top_n kept."""
        body = {
            "model": self.model(endpoint),
            "query": {"text": request.query},
            "passages": [{"text": text} for text in request.input],
        }
        answer = await self._post(endpoint, body, ctx)
        try:
            results = [
                RerankResult(
                    index=int(r["index"]),
                    score=float(r["logit"]),
                    text=request.input[int(r["index"])] if request.return_documents else None,
                )
                for r in answer["rankings"]
            ]
        except (TypeError, ValueError, KeyError, IndexError):
            raise InvalidResponseError("the rerank answer is not `rankings` of {index, logit}") from None
        return sorted(results, key=lambda r: -r.score)[: request.top_n or None]


PROVIDER = Nvidia(
    id="nvidia",
    name="NVIDIA",
    task_types=(TaskType.TEXT_EMBEDDING, TaskType.COMPLETION, TaskType.CHAT_COMPLETION, TaskType.RERANK),
    default_requests_per_minute=dict.fromkeys(TaskType, 3000),
    description="NVIDIA NIM and API Catalog models: chat, embeddings and reranking.",
    docs_url="https://docs.api.nvidia.com/nim/reference",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the NVIDIA provider."""
    return [PROVIDER]
