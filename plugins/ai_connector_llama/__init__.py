"""The Llama provider (`llama`): a Llama Stack server's chat completion (streamed), completion and
text embedding, a thin declaration on the OpenAI-compatible kit.

Fields are Elasticsearch's `llama` service (LlamaService.Configuration): `url` (the full endpoint:
`.../v1/openai/v1/chat/completions` for chat, `.../v1/inference/embeddings` for embeddings),
`model_id` (label "Model"), `api_key`, `rate_limit` (default 3000/min). Chat speaks OpenAI's wire;
embeddings Llama Stack's own (`{"model_id", "contents"}`). ES keeps the whole error body as message.
"""

from __future__ import annotations

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
    TaskType,
    error_for_status,
    fields,
    hookimpl,
)

__all__ = ["PROVIDER", "ai_connector_providers"]


class Llama(OpenAICompatible):
    """Llama Stack: the URL as given, native embeddings."""

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """ES's LlamaErrorResponse: the body text is the message."""
        return error_for_status(
            status, body.decode("utf-8", "replace").strip()[:2000] or None, headers=headers
        )

    def settings_schema(self) -> dict[str, Any]:
        """LlamaService.Configuration's fields."""
        model = "Refer to the Llama models documentation for the list of available models."
        return fields.schema(
            {
                "url": fields.url("The URL endpoint to use for the requests."),
                "model_id": fields.model_id(model, title="Model"),
                "rate_limit": fields.rate_limit(),
            },
            required=["url", "model_id"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """None: ES reads no task settings for llama."""
        return {}

    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """The `url` setting as given."""
        return fields.require(endpoint, "url", "URL")

    async def text_embedding(
        self, endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
    ) -> list[list[float]]:
        """`{"model_id", "contents"}` in; `[[...]]` or `{"embeddings": [[...]]}` out."""
        body = {"model_id": self.model(endpoint), "contents": list(request.input)}
        answer = await self._post(endpoint, body, ctx)
        vectors = answer.get("embeddings") if isinstance(answer, Mapping) else answer
        if not isinstance(vectors, list) or len(vectors) != len(request.input):
            raise InvalidResponseError("the embeddings answer is not one vector per input")
        try:
            return [[float(x) for x in v] for v in vectors]
        except (TypeError, ValueError):
            raise InvalidResponseError("an embedding is not a list of numbers") from None


PROVIDER = Llama(
    id="llama",
    name="Llama",
    default_requests_per_minute=dict.fromkeys(TaskType, 3000),
    description="A Llama Stack server: OpenAI-compatible chat, Llama Stack embeddings.",
    docs_url="https://llama-stack.readthedocs.io",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Llama provider."""
    return [PROVIDER]
