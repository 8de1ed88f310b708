"""The AI21 provider (`ai21`): chat completion (streamed) and completion on AI21 Studio's
OpenAI-compatible chat API (Jamba models), a thin declaration on the kit.

Fields are Elasticsearch's `ai21` service (Ai21Service.Configuration): `model_id` (label "Model"),
`api_key`, `rate_limit` (default 200/min); no task settings. ES sends `max_tokens`. AI21 answers
errors FastAPI-style, `{"detail": ...}`. `url` (not in ES) overrides the base URL for tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    OpenAICompatible,
    Provider,
    ProviderError,
    TaskType,
    error_for_status,
    fields,
    hookimpl,
    openai_kit,
)

__all__ = ["BASE_URL", "PROVIDER", "ai_connector_providers"]

BASE_URL = "https://api.ai21.com/studio/v1"


class AI21(OpenAICompatible):
    """AI21 Studio: ES's model label and description, no task settings."""

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """`{"detail": "..."}` (or a validation list, kept as JSON text); else OpenAI's shape."""
        try:
            detail = json.loads(body).get("detail")
        except (ValueError, AttributeError):
            detail = None
        if detail is None:
            return openai_kit.parse_error(status, headers, body)
        message = detail if isinstance(detail, str) else json.dumps(detail)
        return error_for_status(status, message, headers=headers)

    def settings_schema(self) -> dict[str, Any]:
        """Ai21Service.Configuration's fields, plus the base URL."""
        model = "Refer to the AI21 models documentation for the list of available inference models."
        return fields.schema(
            {
                "model_id": fields.model_id(model, title="Model"),
                "rate_limit": fields.rate_limit(),
                "url": fields.url(
                    "Overrides the AI21 API base URL, for private endpoints, proxies and tests.",
                    default=BASE_URL,
                ),
            },
            required=["model_id"],
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """None: ES refuses task settings for ai21."""
        return {}


PROVIDER = AI21(
    id="ai21",
    name="AI21",
    base_url=BASE_URL,
    task_types=(TaskType.CHAT_COMPLETION, TaskType.COMPLETION),
    default_requests_per_minute=dict.fromkeys(TaskType, 200),
    description="AI21 Studio's chat completions API (Jamba models), OpenAI-compatible.",
    docs_url="https://docs.ai21.com/reference/jamba-1-6-api-ref",
).provider()


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the AI21 provider."""
    return [PROVIDER]
