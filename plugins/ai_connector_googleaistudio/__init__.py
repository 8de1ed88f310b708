"""The Google AI Studio provider (`googleaistudio`): Gemini completion and text embeddings through the
Gemini Developer API, authenticated with an API key.

Settings follow Elasticsearch's `googleaistudio` service, which offers `completion` and
`text_embedding` (no unified chat completion).
"""

from __future__ import annotations

from ai_connector.plugin import Provider, TaskType, fields, hookimpl
from ai_connector_gemini.errors import google_error
from ai_connector_googleaistudio.calls import PROVIDER_ID, completion, test, text_embedding, urls

__all__ = ["AUTH_SCHEMA", "PROVIDER", "SETTINGS_SCHEMA", "ai_connector_providers"]

SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "model_id": {
            "type": "string",
            "title": "Model ID",
            "description": "ID of the LLM you're using.",
        },
        "url": {
            "type": "string",
            "title": "URL",
            "description": "Overrides the service's base URL (https://generativelanguage.googleapis.com) "
            "for private endpoints, proxies and tests.",
            "format": "uri",
        },
        "rate_limit": fields.rate_limit(),
    },
    "required": ["model_id"],
    "additionalProperties": False,
}

AUTH_SCHEMA = {
    "type": "object",
    "properties": {"api_key": fields.api_key()},
    "required": ["api_key"],
    "additionalProperties": False,
}


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Google AI Studio",
    task_types=frozenset({TaskType.COMPLETION, TaskType.TEXT_EMBEDDING}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    test=test,
    parse_error=google_error,
    completion=completion,
    text_embedding=text_embedding,
    urls=urls,
    # ES: "For pay-as-you-go you've 360 requests per minute" (Google Gemini API pricing).
    default_requests_per_minute={TaskType.COMPLETION: 360, TaskType.TEXT_EMBEDDING: 360},
    description="Gemini models through the Gemini Developer API (Google AI Studio), with an API key.",
    docs_url="https://ai.google.dev/gemini-api/docs",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare Google AI Studio."""
    return [PROVIDER]
