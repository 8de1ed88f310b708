"""The OpenAI provider (`openai`): chat completion (streamed), completion and text embedding, on the
core's OpenAI-compatible kit.

Settings mirror Elasticsearch's `openai` service (`GET _inference/_services`). ES's `url` is the
full URL of the task's endpoint, not a base URL. Its default, `https://api.openai.com/v1/chat/completions`
(the schema default, as in ES and Kibana), stands for "OpenAI's own endpoint for this task": chat
and completion post to it, and text_embedding posts to `https://api.openai.com/v1/embeddings`, ES's
embeddings default. Any other `url` is used exactly as given, as ES does, so a proxy for embeddings
is configured with its `.../embeddings` URL.
"""

from __future__ import annotations

from typing import Any

from ai_connector.plugin import InferenceEndpoint, OpenAICompatible, Provider, TaskType, fields, hookimpl

__all__ = ["DEFAULT_CHAT_URL", "DEFAULT_EMBEDDINGS_URL", "PROVIDER", "ai_connector_providers", "request_url"]

DEFAULT_CHAT_URL = "https://api.openai.com/v1/chat/completions"
DEFAULT_EMBEDDINGS_URL = "https://api.openai.com/v1/embeddings"


class OpenAI(OpenAICompatible):
    """OpenAI's API: ES's settings (a task URL, organization, dimensions) and organization header."""

    def settings_schema(self) -> dict[str, Any]:
        """Field texts are ES's (OpenAiService.Configuration and its testGetConfiguration JSON)."""
        return fields.schema(
            {
                "model_id": fields.model_id(),
                "organization_id": fields.field(
                    "string",
                    "Organization ID",
                    "The unique identifier of your organization.",
                    **{"x-updatable": False},
                ),
                "url": fields.url(default=DEFAULT_CHAT_URL),
                "dimensions": fields.field(
                    "integer",
                    "Dimensions",
                    "The number of dimensions the resulting embeddings should have. For more information "
                    "refer to https://platform.openai.com/docs/api-reference/embeddings/create#embeddings-create-dimensions.",
                    minimum=1,
                    **{"x-updatable": False, "x-task-types": ["text_embedding"]},
                ),
                "rate_limit": fields.rate_limit(
                    "Default number of requests allowed per minute. "
                    "For text_embedding is 3000. For completion is 500."
                ),
            },
            required=["model_id"],
        )

    def auth_schema(self) -> dict[str, Any]:
        """ES's `api_key`, with OpenAI's description."""
        key = fields.api_key(
            "The OpenAI API authentication key. For more details about generating OpenAI API keys, "
            "refer to the https://platform.openai.com/account/api-keys."
        )
        return fields.schema({"api_key": key}, required=["api_key"])

    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """The URL this endpoint's task posts to (see the module docstring for the rule)."""
        url = endpoint.settings.get("url") or DEFAULT_CHAT_URL
        if endpoint.task_type is TaskType.TEXT_EMBEDDING and url == DEFAULT_CHAT_URL:
            return DEFAULT_EMBEDDINGS_URL
        return url

    def auth_headers(self, endpoint: InferenceEndpoint) -> dict[str, str]:
        """The bearer key, and `OpenAI-Organization` when the connector names one."""
        headers = super().auth_headers(endpoint)
        if org := endpoint.settings.get("organization_id"):
            headers["OpenAI-Organization"] = org
        return headers


SERVICE = OpenAI(
    id="openai",
    name="OpenAI",
    max_tokens_field="max_completion_tokens",
    default_requests_per_minute={
        TaskType.TEXT_EMBEDDING: 3000,
        TaskType.COMPLETION: 500,
        TaskType.CHAT_COMPLETION: 500,
    },
    description="OpenAI's chat completions and embeddings API (api.openai.com or an OpenAI-compatible URL).",
    docs_url="https://platform.openai.com/docs/api-reference",
)
PROVIDER = SERVICE.provider()
request_url = SERVICE.request_url


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the OpenAI provider."""
    return [PROVIDER]
