"""The Mistral provider (`mistral`): chat completion (streamed), completion and text embedding on
api.mistral.ai, a thin declaration on the OpenAI-compatible kit.

Fields are Elasticsearch's `mistral` service (MistralService.Configuration): the model is `model`,
not `model_id`; no task settings. ES sends `max_tokens` and no `stream_options` (Mistral puts usage
in its last chunk unasked), asks embeddings as floats, and keeps Mistral's whole error body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    ChatRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    ModelNotFoundError,
    OpenAICompatible,
    Provider,
    ProviderError,
    TaskType,
    error_for_status,
    fields,
    hookimpl,
)

__all__ = ["PROVIDER", "ai_connector_providers"]

BASE_URL = "https://api.mistral.ai/v1"
_URL = "Overrides the Mistral API base URL, for private endpoints, proxies and tests."


class Mistral(OpenAICompatible):
    """Mistral's API: ES's fields, `model` for the model, no `stream_options`, float embeddings."""

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """ES's MistralErrorResponse keeps the body text whole; `invalid_model` is a model not found."""
        text = body.decode("utf-8", "replace").strip()[:2000] or None
        unknown = b'"invalid_model"' in body
        return error_for_status(status, text, headers=headers, cls=ModelNotFoundError if unknown else None)

    def settings_schema(self) -> dict[str, Any]:
        """MistralService.Configuration's fields."""
        model = "Refer to the Mistral models documentation for the list of available inference models."
        return fields.schema(
            {
                "model": fields.model_id(model, title="Model"),
                "max_input_tokens": fields.field(
                    "integer",
                    "Maximum Input Tokens",
                    "Allows you to specify the maximum number of tokens per input.",
                    minimum=1,
                    **{"x-updatable": False},
                ),
                "rate_limit": fields.rate_limit(),
                # Not in ES (it always calls api.mistral.ai): for private endpoints, proxies and tests.
                "url": fields.url(_URL, default=self.base_url),
            },
            required=["model"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """None: ES refuses any task setting for mistral."""
        return {}

    def model(self, endpoint: InferenceEndpoint, override: str | None = None) -> str:
        """The request's model, else the connector's `model`."""
        return override or fields.require(endpoint, "model", "Model")

    def chat_body(self, endpoint: InferenceEndpoint, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """OpenAI's body without `stream_options` (ES's withMaxTokensAndSkipStreamOptionsField)."""
        body = super().chat_body(endpoint, request, stream=stream)
        body.pop("stream_options", None)
        return body

    def embedding_body(self, endpoint: InferenceEndpoint, request: EmbeddingRequest) -> dict[str, Any]:
        """`{"model", "input", "encoding_format": "float"}`."""
        return {"model": self.model(endpoint), "input": list(request.input), "encoding_format": "float"}


SERVICE = Mistral(
    id="mistral",
    name="Mistral",
    base_url=BASE_URL,
    default_requests_per_minute=dict.fromkeys(TaskType, 240),
    description="Mistral AI's chat completions and embeddings API (api.mistral.ai).",
    docs_url="https://docs.mistral.ai/api/",
)
PROVIDER = SERVICE.provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Mistral provider."""
    return [PROVIDER]
