"""The Groq provider (`groq`): chat completion (streamed) and completion on Groq's OpenAI-compatible
API, a one-call declaration on the kit.

Fields are Elasticsearch's `groq` service (GroqService.Configuration): `model_id`, `api_key`,
`rate_limit` (default 1000/min); no task settings. `url` (not in ES, which always calls
api.groq.com) overrides the base URL for private endpoints, proxies and tests.
"""

from __future__ import annotations

from typing import Any

from ai_connector.plugin import OpenAICompatible, Provider, TaskType, fields, hookimpl

__all__ = ["BASE_URL", "PROVIDER", "ai_connector_providers"]

BASE_URL = "https://api.groq.com/openai/v1"


class Groq(OpenAICompatible):
    """Groq's API: ES's model description, no task settings."""

    def settings_schema(self) -> dict[str, Any]:
        """GroqService.Configuration's fields, plus the base URL."""
        model = (
            "The name of the model to use for the inference task. "
            "Refer to the Groq models documentation for the list of available models."
        )
        return fields.schema(
            {
                "model_id": fields.model_id(model),
                "rate_limit": fields.rate_limit(),
                "url": fields.url(
                    "Overrides the Groq API base URL, for private endpoints, proxies and tests.",
                    default=BASE_URL,
                ),
            },
            required=["model_id"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """None: ES reads no task settings for groq."""
        return {}


PROVIDER = Groq(
    id="groq",
    name="Groq",
    base_url=BASE_URL,
    task_types=(TaskType.CHAT_COMPLETION, TaskType.COMPLETION),
    default_requests_per_minute=dict.fromkeys(TaskType, 1000),
    description="Groq's OpenAI-compatible chat completions API (api.groq.com).",
    docs_url="https://console.groq.com/docs/api-reference",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Groq provider."""
    return [PROVIDER]
