"""What the tests of the single-purpose services (Cohere, Jina AI, Voyage AI, Contextual AI) share:
an endpoint aimed at a fake, a call context that knows the secret, and one call per task type with
Kibana's default input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

from ai_connector.context import CallContext
from ai_connector.http import build_client
from ai_connector.plugin import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    Provider,
    RerankRequest,
    SparseEmbeddingRequest,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import Secrets

# The providers built on the OpenAI-compatible kit for Elasticsearch's services (test_openai_family.py).
OPENAI_FAMILY = (
    "mistral",
    "deepseek",
    "ai21",
    "llama",
    "groq",
    "nvidia",
    "openshift_ai",
    "hugging_face",
    "fireworksai",
)

# Kibana's default test inputs (stack_connectors public/connector_types/inference/constants.tsx).
KIBANA_INPUTS: Mapping[TaskType, Any] = {
    TaskType.CHAT_COMPLETION: ChatRequest(
        messages=({"role": "user", "content": "Hello world"},), max_tokens=1
    ),
    TaskType.SPARSE_EMBEDDING: SparseEmbeddingRequest(input=("Hello world",)),
    TaskType.COMPLETION: CompletionRequest(input="What is Elastic?"),
    TaskType.TEXT_EMBEDDING: EmbeddingRequest(
        input=("The sky above the port was the color of television tuned to a dead channel.",),
        input_type="ingest",
    ),
    TaskType.RERANK: RerankRequest(
        input=("luke", "like", "leia", "chewy", "r2d2", "star", "wars"), query="star wars main character"
    ),
}


def make_endpoint(
    task: TaskType,
    settings: Mapping[str, Any],
    *,
    secret: str | None,
    task_settings: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> InferenceEndpoint:
    """A resolved connector of `task` with these settings and, unless None, `secret` as its api_key."""
    return InferenceEndpoint(
        inference_id=f"test-{task.value}",
        task_type=task,
        settings=dict(settings),
        secrets=Secrets({"api_key": secret} if secret else {}),
        task_settings=dict(task_settings or {}),
        headers=dict(headers or {}),
    )


@asynccontextmanager
async def call_context(
    provider_id: str, *secrets: str, host_settings: Mapping[str, Any] | None = None
) -> AsyncIterator[CallContext]:
    """A CallContext on a fresh host client that redacts `secrets` (with the provider's host settings,
    e.g. watsonx's `iam_url` aimed at a fake)."""
    async with build_client() as client:
        yield CallContext(
            client=client,
            provider_id=provider_id,
            redactor=Redactor(list(secrets)),
            host_settings=dict(host_settings or {}),
        )


async def call_task(
    provider: Provider,
    endpoint: InferenceEndpoint,
    request: Any = None,
    *,
    host_settings: Mapping[str, Any] | None = None,
) -> Any:
    """Run the provider's call for the endpoint's task type (Kibana's default input unless given),
    redacting the endpoint's secrets as the host does."""
    call = provider.call_for(endpoint.task_type)
    assert call is not None
    secrets = endpoint.secrets.values_for_redaction()
    async with call_context(provider.id, *secrets, host_settings=host_settings) as ctx:
        request = request or KIBANA_INPUTS[endpoint.task_type]
        if endpoint.task_type is TaskType.CHAT_COMPLETION:  # a stream: read it whole
            return [chunk async for chunk in call(endpoint, request, ctx)]
        return await call(endpoint, request, ctx)


def assert_no_secret(secret: str, *texts: Any) -> None:
    """None of `texts` (messages, reprs, logs) contains `secret`."""
    for text in texts:
        assert secret not in str(text), "the secret leaked"


def contract_for(provider_id: str, testing: ModuleType) -> type[ProviderContract]:
    """The contract kit for a provider whose `testing` module has `connector()` and
    `error_response(401)` (the vendor's answer to a refused key)."""

    class Contract(ProviderContract):
        def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
            return testing.connector(base_url, task_type.value, secret=self.canary)

        def serve_rejected_credentials(self, server: FakeServer) -> None:
            server.add("*", "/.*", testing.error_response(401))

    Contract.provider_id = provider_id
    Contract.fake = testing.FAKE
    return Contract


def fake_connector(fake: Any, provider_id: str, task: str = "chat_completion") -> Any:
    """A validated connector (what `Runtime.execute`/`stream` take) aimed at a `ProviderFake`."""
    from ai_connector.manager import default_registry
    from ai_connector.validation import validate_connector

    config, secrets = fake.connector(task)
    doc = {
        "name": provider_id,
        "connector_type_id": ".inference",
        "config": {"provider": provider_id, "taskType": task, "providerConfig": config},
        "secrets": {"providerSecrets": secrets},
    }
    return validate_connector(doc, default_registry(), connector_id=f"fake-{provider_id}")
