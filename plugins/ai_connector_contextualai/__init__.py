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
    InferenceEndpoint,
    Provider,
    RerankRequest,
    RerankResult,
    TaskType,
    fields,
    hookimpl,
)
from ai_connector_contextualai.wire import PROVIDER_ID, parse_error, rerank_body, rerank_results

__all__ = ["DEFAULT_URL", "PROVIDER", "ai_connector_providers"]

DEFAULT_URL = "https://api.contextual.ai/v1/rerank"  # ContextualAiRerankServiceSettings.DEFAULT_RERANK_URI
DEFAULT_REQUESTS_PER_MINUTE = 1000  # ContextualAiRerankServiceSettings.DEFAULT_RATE_LIMIT_SETTINGS

# Field texts and flags are ES's (ContextualAiService.Configuration).
SETTINGS_SCHEMA: dict[str, Any] = fields.schema(
    {
        "model_id": fields.model_id("The model ID to use for Contextual AI requests."),
        "rate_limit": fields.rate_limit(),
        "url": fields.url(
            "The absolute URL of the rerank endpoint, for proxies and tests.", default=DEFAULT_URL
        ),
    },
    required=["model_id"],
)

AUTH_SCHEMA: dict[str, Any] = fields.schema({"api_key": fields.api_key()}, required=["api_key"])

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
    key = fields.require(endpoint, "api_key", "API Key", secret=True)
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
    return rerank_results(await ctx.send_json("POST", _url(endpoint), json=body, headers=_headers(endpoint)))


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Contextual AI",
    task_types=frozenset({TaskType.RERANK}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas={TaskType.RERANK: TASK_SETTINGS_SCHEMA},
    parse_error=parse_error,
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
