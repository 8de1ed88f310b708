"""The Amazon Bedrock provider (`amazonbedrock`): chat completion (ConverseStream), completion
(Converse) and text embedding (InvokeModel on Titan and Cohere models).

Settings mirror Elasticsearch's `amazonbedrock` service (`GET _inference/_services`,
AmazonBedrockServiceTests.testGetConfiguration): AWS access and secret keys, the model `provider`
family, the `model` id or ARN and its `region`; `url` overrides the runtime endpoint. Requests are
SigV4-signed (service `bedrock`) by botocore, which is imported only inside the calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import InferenceEndpoint, Provider, TaskType, fields, hookimpl
from ai_connector_amazonbedrock.calls import (
    CHAT_PROVIDERS,
    DEFAULT_URL,
    PROVIDER_ID,
    chat_completion,
    chat_completion_stream,
    completion,
    on_save,
    operation_url,
    test,
    text_embedding,
)
from ai_connector_amazonbedrock.errors import error_from_response

__all__ = ["AUTH_SCHEMA", "PROVIDER", "SETTINGS_SCHEMA", "ai_connector_providers"]

# Field texts are ES's (AmazonBedrockService configuration, as its testGetConfiguration asserts).
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "provider": {
            "type": "string",
            "title": "Provider",
            "description": "The model provider for your deployment.",
            "enum": sorted(CHAT_PROVIDERS),  # ES AmazonBedrockProvider
            "x-updatable": False,
        },
        "model": {
            "type": "string",
            "title": "Model",
            "description": "The base model ID or an ARN to a custom model based on a foundational model.",
            "minLength": 1,
            "x-updatable": False,
        },
        "region": {
            "type": "string",
            "title": "Region",
            "description": "The region that your model or ARN is deployed in.",
            "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
            "x-updatable": False,
        },
        "dimensions": {
            "type": "integer",
            "title": "Dimensions",
            "description": "The number of dimensions the resulting embeddings should have. "
            "For more information refer to "
            "https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html.",
            "minimum": 1,
            "x-updatable": False,
            "x-task-types": ["text_embedding"],
        },
        "rate_limit": fields.rate_limit(
            "By default, the amazonbedrock service sets the number of requests allowed per minute to 240."
        ),
        "url": fields.url(
            "Overrides the Bedrock runtime base URL (https://bedrock-runtime.{region}.amazonaws.com) "
            "for private endpoints, proxies and tests. Requests are still signed for the region above."
        ),
    },
    "required": ["provider", "model", "region"],
    "additionalProperties": False,
}

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "access_key": {
            "type": "string",
            "title": "Access Key",
            "description": "A valid AWS access key that has permissions to use Amazon Bedrock.",
            "x-sensitive": True,
            "x-updatable": True,
        },
        "secret_key": {
            "type": "string",
            "title": "Secret Key",
            "description": "A valid AWS secret key that is paired with the access_key.",
            "x-sensitive": True,
            "x-updatable": True,
        },
    },
    "required": ["access_key", "secret_key"],
    "additionalProperties": False,
}

# ES AmazonBedrockChatCompletionTaskSettings: temperature, top_p and top_k in [0, 1], max_new_tokens.
CHAT_TASK_SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_new_tokens": {
            "type": "integer",
            "title": "Max New Tokens",
            "description": "The maximum number of tokens to generate (Converse maxTokens).",
            "minimum": 1,
        },
        "temperature": {
            "type": "number",
            "title": "Temperature",
            "description": "Sampling temperature, from 0.0 to 1.0 (Converse temperature).",
            "minimum": 0,
            "maximum": 1,
        },
        "top_p": {
            "type": "number",
            "title": "Top P",
            "description": "Nucleus sampling, from 0.0 to 1.0 (Converse topP).",
            "minimum": 0,
            "maximum": 1,
        },
        "top_k": {
            "type": "number",
            "title": "Top K",
            "description": "Only sample from the top K options, from 0.0 to 1.0; "
            "anthropic, cohere and mistral models only.",
            "minimum": 0,
            "maximum": 1,
        },
    },
    "additionalProperties": False,
}

# ES AmazonBedrockEmbeddingsTaskSettings: Cohere's truncation (CohereTruncation names).
EMBEDDING_TASK_SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "truncate": {
            "type": "string",
            "title": "Truncate",
            "description": "How a cohere model handles inputs longer than its maximum token length.",
            "enum": ["NONE", "START", "END"],
        }
    },
    "additionalProperties": False,
}


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    operation = {
        TaskType.CHAT_COMPLETION: "converse-stream",
        TaskType.COMPLETION: "converse",
        TaskType.TEXT_EMBEDDING: "invoke",
    }[endpoint.task_type]
    urls = [operation_url(endpoint, operation)]
    if endpoint.task_type is TaskType.CHAT_COMPLETION:
        urls.append(operation_url(endpoint, "converse"))  # Save & test's one-token call
    return urls


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Amazon Bedrock",
    task_types=frozenset({TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas={
        TaskType.CHAT_COMPLETION: CHAT_TASK_SETTINGS,
        TaskType.COMPLETION: CHAT_TASK_SETTINGS,
        TaskType.TEXT_EMBEDDING: EMBEDDING_TASK_SETTINGS,
    },
    test=test,
    parse_error=error_from_response,
    chat_completion_stream=chat_completion_stream,
    chat_completion=chat_completion,
    completion=completion,
    text_embedding=text_embedding,
    urls=_urls,
    on_save=on_save,
    default_requests_per_minute={
        TaskType.CHAT_COMPLETION: 240,
        TaskType.COMPLETION: 240,
        TaskType.TEXT_EMBEDDING: 240,
    },
    description="Amazon Bedrock runtime: Converse for chat and completion, InvokeModel for "
    "Titan and Cohere embeddings, signed with AWS SigV4. Default endpoint " + DEFAULT_URL + ".",
    docs_url="https://docs.aws.amazon.com/bedrock/latest/APIReference/welcome.html",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Amazon Bedrock provider."""
    return [PROVIDER]
