"""The Google Vertex AI provider (`googlevertexai`): Gemini chat and completion, text embeddings and
rerank (Discovery Engine ranking API), authenticated with a service-account key.

Settings follow Elasticsearch's `googlevertexai` service (`GoogleVertexAiService.Configuration`);
google-auth is imported only when a token is first needed.
"""

from __future__ import annotations

from ai_connector.plugin import Provider, TaskType, fields, hookimpl
from ai_connector_gemini.errors import google_error
from ai_connector_googlevertexai.calls import (
    LOCATION_PATTERN,
    PROVIDER_ID,
    chat_completion,
    chat_completion_stream,
    completion,
    rerank,
    test,
    text_embedding,
    urls,
)

__all__ = ["AUTH_SCHEMA", "PROVIDER", "SETTINGS_SCHEMA", "ai_connector_providers"]

_DOCS = "For more information, refer to the {geminiVertexAIDocs}."  # Kibana fills in the docs links

SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "model_id": {
            "type": "string",
            "title": "Model ID",
            "description": "ID of the LLM you're using.",
        },
        "location": {
            "type": "string",
            "title": "GCP Region",
            "description": f"Please provide the GCP region where the Vertex AI API(s) is enabled. {_DOCS}",
            "pattern": LOCATION_PATTERN,
            "x-task-types": ["text_embedding", "chat_completion", "completion"],
        },
        "project_id": {
            "type": "string",
            "title": "GCP Project",
            "description": "The GCP Project ID which has Vertex AI API(s) enabled. For more information "
            "on the URL, refer to the {geminiVertexAIDocs}.",
        },
        "url": {
            "type": "string",
            "title": "URL",
            "description": "Overrides the service's base URL (https://{location}-aiplatform.googleapis.com, "
            "or https://discoveryengine.googleapis.com for rerank) for private endpoints, proxies and tests.",
            "format": "uri",
        },
        "rate_limit": fields.rate_limit(),
    },
    "required": ["model_id", "location", "project_id"],
    "additionalProperties": False,
}

AUTH_SCHEMA = {
    "type": "object",
    "properties": {
        "service_account_json": {
            "type": "string",
            "title": "Credentials JSON",
            "description": "The JSON key of a Google Cloud service account with access to Vertex AI "
            "(the file the console downloads under IAM > Service accounts > Keys).",
            "x-format": "json",
            "x-sensitive": True,
            "x-updatable": True,
        }
    },
    "required": ["service_account_json"],
    "additionalProperties": False,
}


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Google Vertex AI",
    task_types=frozenset(
        {TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING, TaskType.RERANK}
    ),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    test=test,
    parse_error=google_error,
    chat_completion_stream=chat_completion_stream,
    chat_completion=chat_completion,
    completion=completion,
    text_embedding=text_embedding,
    rerank=rerank,
    urls=urls,
    # ES defaults: online prediction quota (embeddings), Discovery Engine query quota (rerank),
    # and the chat completion service settings' default for generation.
    default_requests_per_minute={
        TaskType.TEXT_EMBEDDING: 30_000,
        TaskType.RERANK: 300,
        TaskType.CHAT_COMPLETION: 1000,
        TaskType.COMPLETION: 1000,
    },
    description="Gemini models on Google Cloud Vertex AI, with a service-account key.",
    docs_url="https://cloud.google.com/vertex-ai/generative-ai/docs",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare Google Vertex AI."""
    return [PROVIDER]
