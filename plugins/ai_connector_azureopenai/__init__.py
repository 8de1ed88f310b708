"""The Azure OpenAI provider (`azureopenai`): completion and text embedding as in Elasticsearch, plus
streamed chat completion (Azure's chat endpoint streams OpenAI's SSE), on the core's OpenAI kit.

Requests go to `https://{resource_name}.openai.azure.com/openai/deployments/{deployment_id}/
{chat/completions|embeddings}?api-version={api_version}`; the optional `url` setting replaces
`https://{resource_name}.openai.azure.com` (private endpoints, proxies, tests). Authentication is an
`api-key` header or an Entra ID token as `Authorization: Bearer`, exactly one of them, as ES requires.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ai_connector.plugin import (
    ChatRequest,
    InferenceEndpoint,
    OpenAICompatible,
    Provider,
    TaskType,
    fields,
    hookimpl,
)

__all__ = ["PROVIDER", "ai_connector_providers", "request_url"]

# `stream_options` and `max_completion_tokens` arrived with api-version 2024-09-01-preview (GA in
# 2024-10-21); older versions refuse them as unrecognized arguments.
_NEWER_API_SINCE = "2024-09-01"
_EITHER = "You must provide either an API key or an Entra ID."
_NOT_UPDATABLE = {"x-updatable": False}


class AzureOpenAI(OpenAICompatible):
    """Azure's deployments: the URL names resource and deployment, the model is the deployment's."""

    def settings_schema(self) -> dict[str, Any]:
        """Field texts are ES's (AzureOpenAiService configuration, its testGetConfiguration)."""
        string = "string"
        return fields.schema(
            {
                "resource_name": fields.field(
                    string,
                    "Resource Name",
                    "The name of your Azure OpenAI resource.",
                    # Azure resource (custom subdomain) names: letters, digits and hyphens (a hostname).
                    pattern="^[A-Za-z0-9][A-Za-z0-9-]*$",
                    **_NOT_UPDATABLE,
                ),
                "deployment_id": fields.field(
                    string,
                    "Deployment ID",
                    "The deployment name of your deployed models.",
                    minLength=1,
                    **_NOT_UPDATABLE,
                ),
                "api_version": fields.field(
                    string, "API Version", "The Azure API version ID to use.", minLength=1, **_NOT_UPDATABLE
                ),
                "dimensions": fields.field(
                    "integer",
                    "Dimensions",
                    "The number of dimensions the resulting embeddings should have. For more information "
                    "refer to https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#request-body-1.",
                    minimum=1,
                    **_NOT_UPDATABLE,
                    **{"x-task-types": ["text_embedding"]},
                ),
                "rate_limit": fields.rate_limit(
                    "The azureopenai service sets a default number of requests allowed per "
                    "minute depending on the task type."
                ),
                "url": fields.url(
                    "Overrides the service's base URL, https://{resource_name}.openai.azure.com, "
                    "for private endpoints, proxies and tests."
                ),
            },
            required=["resource_name", "deployment_id", "api_version"],
        )

    def auth_schema(self) -> dict[str, Any]:
        """An API key or an Entra ID token: exactly one."""
        schema = fields.schema(
            {"api_key": fields.api_key(_EITHER), "entra_id": {**fields.api_key(_EITHER), "title": "Entra ID"}}
        )
        schema["oneOf"] = [{"required": ["api_key"]}, {"required": ["entra_id"]}]
        return schema

    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """The deployment URL of this endpoint's task, without the `api-version` query."""
        base = endpoint.settings.get("url")
        if not base:
            base = f"https://{fields.require(endpoint, 'resource_name', 'Resource Name')}.openai.azure.com"
        deployment = quote(fields.require(endpoint, "deployment_id", "Deployment ID"), safe="")
        path = "embeddings" if endpoint.task_type is TaskType.TEXT_EMBEDDING else "chat/completions"
        return f"{base.rstrip('/')}/openai/deployments/{deployment}/{path}"

    def request_params(self, endpoint: InferenceEndpoint) -> dict[str, str]:
        """`api-version` on every request."""
        return {"api-version": fields.require(endpoint, "api_version", "API Version")}

    def urls(self, endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
        """The deployment URL with its query, for the allowedHosts check."""
        return [f"{self.request_url(endpoint)}?{urlencode(self.request_params(endpoint))}"]

    def auth_headers(self, endpoint: InferenceEndpoint) -> dict[str, str]:
        """Exactly one of `api-key` or the Entra ID bearer token."""
        key = endpoint.secrets.get("api_key")
        token = endpoint.secrets.get("entra_id")
        if bool(key) == bool(token):
            reason = "Provide only one of API Key or Entra ID, not both" if key else _EITHER
            raise fields.invalid("api_key", "API Key", reason, path="secrets.providerSecrets")
        return {"api-key": key} if key else {"Authorization": f"Bearer {token}"}

    def model(self, endpoint: InferenceEndpoint, override: str | None = None) -> str:
        """No model in the body: the deployment in the URL chooses it."""
        return ""

    def _newer_api(self, endpoint: InferenceEndpoint) -> bool:
        """Whether the api-version knows `stream_options` and `max_completion_tokens`; a version that
        is not a date (`preview`, `latest`) is a current surface."""
        version = fields.require(endpoint, "api_version", "API Version")
        return not version[:1].isdigit() or version[:10] >= _NEWER_API_SINCE

    def tokens_field(self, endpoint: InferenceEndpoint) -> str:
        """`max_completion_tokens` where the api-version knows it, else `max_tokens`."""
        return "max_completion_tokens" if self._newer_api(endpoint) else "max_tokens"

    def chat_body(self, endpoint: InferenceEndpoint, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """OpenAI's body, the deployment's model; older api-versions get no `stream_options`."""
        newer = self._newer_api(endpoint)
        body = super().chat_body(endpoint, dataclasses.replace(request, model=None), stream=stream)
        if not newer:
            body.pop("stream_options", None)
        return body


SERVICE = AzureOpenAI(
    id="azureopenai",
    name="Azure OpenAI",
    # ES's defaults: 1440 for embeddings (240K TPM), 120 for chat completions (20K TPM).
    default_requests_per_minute={
        TaskType.TEXT_EMBEDDING: 1440,
        TaskType.COMPLETION: 120,
        TaskType.CHAT_COMPLETION: 120,
    },
    description="Azure OpenAI Service deployments (chat completions and embeddings).",
    docs_url="https://learn.microsoft.com/en-us/azure/ai-services/openai/reference",
)
PROVIDER = SERVICE.provider()
request_url = SERVICE.request_url


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Azure OpenAI provider."""
    return [PROVIDER]
