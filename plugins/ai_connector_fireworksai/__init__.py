"""The FireworksAI provider (`fireworksai`): text embedding and rerank on api.fireworks.ai, on the
OpenAI-compatible kit (embeddings are OpenAI's wire; rerank Fireworks' own).

Fields are Elasticsearch's `fireworksai` service (FireworksAiService.Configuration): `model_id`,
`api_key`, `rate_limit`. `url` (not in ES, which always calls api.fireworks.ai) overrides the base
URL for private endpoints, proxies and tests.
"""

from __future__ import annotations

from typing import Any

from ai_connector.plugin import (
    CallContext,
    InferenceEndpoint,
    InvalidResponseError,
    OpenAICompatible,
    Provider,
    RerankRequest,
    RerankResult,
    TaskType,
    fields,
    hookimpl,
)

__all__ = ["BASE_URL", "PROVIDER", "ai_connector_providers"]

BASE_URL = "https://api.fireworks.ai/inference/v1"


class FireworksAI(OpenAICompatible):
    """Fireworks' inference API: OpenAI's embeddings, its own `/rerank`."""

    def settings_schema(self) -> dict[str, Any]:
        """FireworksAiService.Configuration's fields, plus the base URL."""
        return fields.schema(
            {
                "model_id": fields.model_id("The model ID to use for FireworksAI requests."),
                "rate_limit": fields.rate_limit(),
                "url": fields.url(
                    "Overrides the FireworksAI API base URL, for private endpoints, proxies and tests.",
                    default=BASE_URL,
                ),
            },
            required=["model_id"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """None in ES's descriptor."""
        return {}

    async def rerank(
        self, endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext
    ) -> list[RerankResult]:
        """`POST <url>/rerank` `{model, query, documents, top_n?, return_documents}` ->
        `results[{index, relevance_score, document?}]`, best first."""
        body: dict[str, Any] = {
            "model": self.model(endpoint),
            "query": request.query,
            "documents": list(request.input),
            "return_documents": request.return_documents,
        }
        if request.top_n:
            body["top_n"] = request.top_n
        answer = await self._post(endpoint, body, ctx)
        try:
            items = answer["results"] if "results" in answer else answer["data"]  # ES reads `results`
            results = [
                RerankResult(index=int(r["index"]), score=float(r["relevance_score"]), text=r.get("document"))
                for r in items
            ]
        except (TypeError, ValueError, KeyError, AttributeError):
            raise InvalidResponseError(
                "the rerank answer is not `data` of {index, relevance_score}"
            ) from None
        # ES (FireworksAiRerankResponseEntity) sorts by relevance and keeps top_n.
        return sorted(results, key=lambda r: -r.score)[: request.top_n or None]

    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """`<url>/embeddings` or `<url>/rerank`."""
        path = "rerank" if endpoint.task_type is TaskType.RERANK else "embeddings"
        return f"{(endpoint.settings.get('url') or BASE_URL).rstrip('/')}/{path}"


PROVIDER = FireworksAI(
    id="fireworksai",
    name="FireworksAI",
    base_url=BASE_URL,
    task_types=(TaskType.TEXT_EMBEDDING, TaskType.RERANK),
    description="Fireworks AI's embeddings and reranking API (api.fireworks.ai).",
    docs_url="https://docs.fireworks.ai/api-reference",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the FireworksAI provider."""
    return [PROVIDER]
