"""The OpenShift AI provider (`openshift_ai`): a model served on Red Hat OpenShift AI (vLLM, TEI...):
chat completion (streamed), completion, text embedding and rerank, on the OpenAI-compatible kit.

Fields are Elasticsearch's `openshift_ai` service (OpenShiftAiService.Configuration): `url` (the
full endpoint, required), `model_id` (optional: a single-model server needs none), `api_key`,
`rate_limit` (default 3000/min); rerank task settings `return_documents`, `top_n`. Chat and
embeddings speak OpenAI's wire; rerank the Cohere/Jina protocol (`results[].relevance_score`).
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

__all__ = ["PROVIDER", "ai_connector_providers"]


class OpenShiftAI(OpenAICompatible):
    """A model server at the connector's URL."""

    def settings_schema(self) -> dict[str, Any]:
        """OpenShiftAiService.Configuration's fields."""
        return fields.schema(
            {
                "url": fields.url("The URL endpoint to use for the requests."),
                "model_id": fields.model_id(),
                "rate_limit": fields.rate_limit(),
            },
            required=["url"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """Rerank's `return_documents` and `top_n` (OpenShiftAiRerankTaskSettings)."""
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
        """The model, when there is one (a single-model server needs none)."""
        return override or endpoint.settings.get("model_id") or ""

    async def rerank(
        self, endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext
    ) -> list[RerankResult]:
        """`{model?, query, documents, top_n?, return_documents?}` ->
        `results[{index, relevance_score, document?}]`."""
        settings = endpoint.task_settings
        top_n = request.top_n or settings.get("top_n")
        docs = settings.get("return_documents", request.return_documents)
        body: dict[str, Any] = {
            "query": request.query,
            "documents": list(request.input),
            "return_documents": docs,
        }
        if model := self.model(endpoint):
            body = {"model": model, **body}
        if top_n:
            body["top_n"] = top_n
        answer = await self._post(endpoint, body, ctx)
        try:
            return [
                RerankResult(
                    index=int(r["index"]),
                    score=float(r["relevance_score"]),
                    text=(r.get("document") or {}).get("text") if docs else None,
                )
                for r in answer["results"]
            ]
        except (TypeError, ValueError, KeyError, AttributeError):
            raise InvalidResponseError(
                "the rerank answer is not `results` of {index, relevance_score}"
            ) from None


PROVIDER = OpenShiftAI(
    id="openshift_ai",
    name="OpenShift AI",
    task_types=(TaskType.TEXT_EMBEDDING, TaskType.COMPLETION, TaskType.CHAT_COMPLETION, TaskType.RERANK),
    default_requests_per_minute=dict.fromkeys(TaskType, 3000),
    description="A model served on Red Hat OpenShift AI: chat, embeddings and reranking.",
    docs_url="https://docs.redhat.com/en/documentation/red_hat_openshift_ai_self-managed",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the OpenShift AI provider."""
    return [PROVIDER]
