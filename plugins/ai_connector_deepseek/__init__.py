"""The DeepSeek provider (`deepseek`): chat completion (streamed) and completion, a thin declaration
on the OpenAI-compatible kit.

Fields are Elasticsearch's `deepseek` service (DeepSeekService.Configuration): `model_id`, `api_key`
and `url`, the full chat URL (default `https://api.deepseek.com/chat/completions`); no rate limit,
no task settings. ES sends `max_tokens`. A 402 is DeepSeek's "insufficient balance": a spent quota.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    InferenceEndpoint,
    ModelNotFoundError,
    OpenAICompatible,
    Provider,
    ProviderError,
    RateLimitError,
    TaskType,
    error_for_status,
    fields,
    hookimpl,
    openai_kit,
)

__all__ = ["DEFAULT_URL", "PROVIDER", "ai_connector_providers"]

DEFAULT_URL = "https://api.deepseek.com/chat/completions"


class DeepSeek(OpenAICompatible):
    """DeepSeek's API: ES's three fields, the URL used exactly as given."""

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """OpenAI's error bodies; 402 (insufficient balance) is a quota that waiting will not restore,
        and a 400 "Model Not Exist" an unknown model."""
        message = openai_kit.openai_error_fields(body)[0]
        if status == 402:
            return error_for_status(status, message, headers=headers, cls=RateLimitError, retryable=False)
        if message == "Model Not Exist":
            return error_for_status(status, message, headers=headers, cls=ModelNotFoundError)
        return openai_kit.parse_error(status, headers, body)

    def settings_schema(self) -> dict[str, Any]:
        """DeepSeekService.Configuration's fields."""
        return fields.schema(
            {
                "model_id": fields.model_id(title="Model ID"),
                "url": fields.url("The URL endpoint to use for the requests.", default=DEFAULT_URL),
            },
            required=["model_id"],
        )

    def auth_schema(self) -> dict[str, Any]:
        """ES's `api_key`, with DeepSeek's description."""
        key = fields.api_key(
            "The DeepSeek API authentication key. For more details about generating DeepSeek API keys, "
            "refer to https://api-docs.deepseek.com."
        )
        return fields.schema({"api_key": key}, required=["api_key"])

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """None: ES reads no task settings for deepseek."""
        return {}

    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """The `url` setting as given (ES posts both tasks to it)."""
        return endpoint.settings.get("url") or DEFAULT_URL


PROVIDER = DeepSeek(
    id="deepseek",
    name="DeepSeek",
    task_types=(TaskType.CHAT_COMPLETION, TaskType.COMPLETION),
    description="DeepSeek's chat completions API (api.deepseek.com), OpenAI-compatible.",
    docs_url="https://api-docs.deepseek.com",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the DeepSeek provider."""
    return [PROVIDER]
