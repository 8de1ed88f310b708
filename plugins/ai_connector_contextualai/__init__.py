"""The Contextual AI provider (`contextualai`): rerank, as Elasticsearch's `contextualai` service calls
`https://api.contextual.ai/v1/rerank`.

Settings are ES's (`ContextualAiService.Configuration`: `model_id`, `api_key`, `rate_limit`), plus ES's
optional `url` (`ContextualAiRerankServiceSettings`), the full URL of the rerank endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ConfigValidationError,
    FieldError,
    InferenceEndpoint,
    InvalidResponseError,
    Provider,
    RerankRequest,
    RerankResult,
    TaskType,
    default_test,
    hookimpl,
    rate_limit_field,
)
from ai_connector_contextualai.wire import PROVIDER_ID, parse_error, rerank_body, rerank_results

__all__ = ["DEFAULT_URL", "PROVIDER", "ai_connector_providers"]

DEFAULT_URL = "https://api.contextual.ai/v1/rerank"  # ContextualAiRerankServiceSettings.DEFAULT_RERANK_URI
DEFAULT_REQUESTS_PER_MINUTE = 1000  # ContextualAiRerankServiceSettings.DEFAULT_RATE_LIMIT_SETTINGS

# Field texts and flags are ES's (ContextualAiService.Configuration).
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model_id": {
            "type": "string",
            "title": "Model ID",
            "description": "The model ID to use for Contextual AI requests.",
            "x-updatable": False,
        },
        "rate_limit": rate_limit_field(),
        "url": {
            "type": "string",
            "title": "URL",
            "description": "The absolute URL of the rerank endpoint, for proxies and tests.",
            "format": "uri",
            "default": DEFAULT_URL,
            "x-updatable": False,
        },
    },
    "required": ["model_id"],
    "additionalProperties": False,
}

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "title": "API Key",
            "description": "API Key for the provider you're connecting to.",
            "x-sensitive": True,
            "x-updatable": True,
        }
    },
    "required": ["api_key"],
    "additionalProperties": False,
}

# ES's ContextualAiRerankTaskSettings (elasticsearch-specification ContextualAITaskSettings).
TASK_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "instruction": {
            "type": "string",
            "title": "Instruction",
            "description": "Instructions for the reranker, e.g. which sources or recency to prefer.",
        },
        "return_documents": {
            "type": "boolean",
            "title": "Return Documents",
            "description": "Whether to return the document text with each result.",
            "default": False,
        },
        "top_k": {
            "type": "integer",
            "title": "Top K",
            "description": "The number of most relevant documents to return; all of them when empty.",
            "minimum": 1,
        },
    },
    "additionalProperties": False,
}


def _url(endpoint: InferenceEndpoint) -> str:
    return endpoint.settings.get("url") or DEFAULT_URL


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [_url(endpoint)]


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    """The connector's custom headers, then the bearer key (which wins)."""
    key = endpoint.secrets.get("api_key")
    if not key:
        raise ConfigValidationError(
            [FieldError("secrets.providerSecrets.api_key", "api_key", "API Key", "API Key is required")]
        )
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {key}"
    return headers


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`POST /v1/rerank`, results best first; the request's top_n wins over the `top_k` task setting."""
    task_settings = endpoint.task_settings
    body = rerank_body(
        request.query,
        request.input,
        model=endpoint.settings["model_id"],
        top_n=request.top_n if request.top_n is not None else task_settings.get("top_k"),
        instruction=task_settings.get("instruction"),
    )
    resp = await ctx.request("POST", _url(endpoint), json=body, headers=_headers(endpoint))
    if resp.status_code >= 400:
        raise parse_error(resp.status_code, resp.headers, resp.content).redacted(ctx.redact)
    try:
        data = resp.json()
    except ValueError:
        raise InvalidResponseError(
            f"{PROVIDER_ID}: the response is not JSON", status=resp.status_code, provider=PROVIDER_ID
        ) from None
    return rerank_results(data)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Contextual AI",
    task_types=frozenset({TaskType.RERANK}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas={TaskType.RERANK: TASK_SETTINGS_SCHEMA},
    test=default_test({TaskType.RERANK: rerank}),
    rerank=rerank,
    urls=_urls,
    default_requests_per_minute={TaskType.RERANK: DEFAULT_REQUESTS_PER_MINUTE},
    description="Contextual AI's instruction-following reranker.",
    docs_url="https://docs.contextual.ai/api-reference/rerank/rerank",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Contextual AI provider."""
    return [PROVIDER]
