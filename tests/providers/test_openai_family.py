"""The providers built on the OpenAI-compatible kit for Elasticsearch's services (mistral,
deepseek, ai21, llama, groq, nvidia, openshift_ai, hugging_face, fireworksai), one table for all:
the contract kit (the unified stream invariant included), a success per task type against each
vendor's wire-exact fake, Elasticsearch's fields, each vendor's request bodies and own ways, and
every task saved, tested and run through the host. Their error kinds (credentials, model not
found, rate limit with its retry hint, spent quota, server error, mid-stream) are rows of the
cross-provider table, test_error_kinds.py.

Field facts are Elasticsearch's (each plugin's docstring names the ES class), see also
/work/scratch/es-services/.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from service_helpers import OPENAI_FAMILY as FAMILY

from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.http import build_client
from ai_connector.manager import default_registry
from ai_connector.plugin import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    Provider,
    ProviderServerError,
    RerankRequest,
    SparseEmbeddingRequest,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.validation import validate_connector

CANARY = "canary-secret-family-9c2e41"
RETRY_AFTER = 7
CHAT, COMPLETION, EMBED, SPARSE, RERANK = (
    TaskType.CHAT_COMPLETION,
    TaskType.COMPLETION,
    TaskType.TEXT_EMBEDDING,
    TaskType.SPARSE_EMBEDDING,
    TaskType.RERANK,
)
HELLO = ChatRequest(messages=({"role": "user", "content": "Hello world"},), max_tokens=64)


def fake_module(provider_id: str) -> ModuleType:
    return importlib.import_module(f"ai_connector_{provider_id}.testing")


def provider_of(provider_id: str) -> Provider:
    return default_registry().get(provider_id)


# -- the contract kit, one class per provider ----------------------------------------------------
def _contract(provider_id: str) -> type[ProviderContract]:
    testing = fake_module(provider_id)

    class Contract(ProviderContract):
        fake = testing.FAKE

        def connector_settings(
            self, base_url: str, task_type: TaskType
        ) -> tuple[dict[str, Any], dict[str, Any]]:
            return testing.connector(base_url, task_type.value, secret=self.canary)

        def serve_rejected_credentials(self, server: Any) -> None:
            server.add("*", "/.*", testing.error_answer(testing.ERRORS, "credentials"))

    Contract.provider_id = provider_id
    Contract.__name__ = Contract.__qualname__ = f"TestContract_{provider_id}"
    return Contract


for _id in FAMILY:
    globals()[f"TestContract_{_id}"] = _contract(_id)


# -- calling a provider against its fake ---------------------------------------------------------
def endpoint(
    provider_id: str,
    task: TaskType,
    url: str,
    *,
    task_settings: dict[str, Any] | None = None,
    **settings: Any,
) -> InferenceEndpoint:
    config, secrets = fake_module(provider_id).connector(url, task.value, secret=CANARY)
    config.update(settings)
    document = {
        "name": "family",
        "config": {
            "provider": provider_id,
            "taskType": task.value,
            "providerConfig": config,
            "taskTypeConfig": task_settings or {},
        },
        "secrets": {"providerSecrets": secrets},
    }
    return validate_connector(document, default_registry()).endpoint()


@pytest.fixture
async def ctx_for() -> AsyncIterator[Callable[[str], CallContext]]:
    async with build_client() as client:
        yield lambda provider_id: CallContext(
            client=client, provider_id=provider_id, redactor=Redactor([CANARY])
        )


INPUTS: dict[TaskType, Any] = {
    CHAT: HELLO,
    COMPLETION: CompletionRequest(input="Hello world", max_tokens=64),
    EMBED: EmbeddingRequest(input=("Hello", "world")),
    SPARSE: SparseEmbeddingRequest(input=("Hello", "world")),
    RERANK: RerankRequest(query="greeting", input=("goodbye", "hello there", "hi"), top_n=2),
}


async def run(provider: Provider, ep: InferenceEndpoint, ctx: CallContext, request: Any = None) -> Any:
    call = provider.call_for(ep.task_type)
    request = INPUTS[ep.task_type] if request is None else request
    if ep.task_type is CHAT:
        return [c async for c in call(ep, request, ctx)]
    return await call(ep, request, ctx)


TASK_ROWS = [
    pytest.param(pid, task, id=f"{pid}-{task.value}")
    for pid in FAMILY
    for task in sorted(provider_of(pid).task_types)
]


@pytest.mark.parametrize(("provider_id", "task"), TASK_ROWS)
async def test_each_task_type_succeeds_against_the_fake(
    server: FakeServer, ctx_for: Callable[[str], CallContext], provider_id: str, task: TaskType
) -> None:
    fake = fake_module(provider_id).FAKE(server, api_key=CANARY)
    result = await run(provider_of(provider_id), endpoint(provider_id, task, fake.url), ctx_for(provider_id))
    sent = fake.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {CANARY}"
    if task is CHAT:
        assert result[0].role == "assistant" and "".join(c.content or "" for c in result) == "Hello there!"
        assert [c.finish_reason for c in result if c.finish_reason] == ["stop"]
        assert result[-1].is_usage_only and result[-1].usage is not None
    elif task is COMPLETION:
        assert result == ["Hello there!"]
        assert sent.json()["messages"] == [{"role": "user", "content": "Hello world"}]
    elif task is EMBED:
        assert len(result) == 2 and all(len(v) >= 3 and all(isinstance(x, float) for x in v) for v in result)
        assert result[0] != result[1]
    elif task is SPARSE:
        assert result == [{"hello": 1.25, "world": 0.5}, {"hello": 1.25, "world": 1.5}]
    else:
        assert len(result) == 2 and result[0].score >= result[1].score
        assert {r.index for r in result} <= {0, 1, 2}


# -- Elasticsearch's fields ----------------------------------------------------------------------
# provider -> (name, task types, {key: (label, required, updatable, default)}) from each service's
# Configuration / testGetConfiguration in elastic/elasticsearch x-pack/plugin/inference
# (services/<id>/<Id>Service.java). `url` marked "host" is this host's addition (ES calls the
# vendor's fixed host): optional, for proxies and tests.
KEY = ("API Key", True, True, None)
RATE = ("Rate Limit", False, False, None)
ES_FIELDS: dict[str, tuple[str, set[str], dict[str, tuple[str, bool, bool, Any]]]] = {
    "mistral": (
        "Mistral",
        {"text_embedding", "completion", "chat_completion"},
        {
            "model": ("Model", True, False, None),
            "max_input_tokens": ("Maximum Input Tokens", False, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
            "url": ("URL", False, False, "https://api.mistral.ai/v1"),  # host
        },
    ),
    "deepseek": (
        "DeepSeek",
        {"completion", "chat_completion"},
        {
            "model_id": ("Model ID", True, False, None),
            "api_key": KEY,
            "url": ("URL", False, False, "https://api.deepseek.com/chat/completions"),
        },
    ),
    "ai21": (
        "AI21",
        {"completion", "chat_completion"},
        {
            "model_id": ("Model", True, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
            "url": ("URL", False, False, "https://api.ai21.com/studio/v1"),  # host
        },
    ),
    "llama": (
        "Llama",
        {"text_embedding", "completion", "chat_completion"},
        {
            "url": ("URL", True, False, None),
            "model_id": ("Model", True, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
        },
    ),
    "groq": (
        "Groq",
        {"completion", "chat_completion"},
        {
            "model_id": ("Model ID", True, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
            "url": ("URL", False, False, "https://api.groq.com/openai/v1"),  # host
        },
    ),
    "nvidia": (
        "NVIDIA",
        {"text_embedding", "completion", "chat_completion", "rerank"},
        {
            "url": ("URL", False, False, None),
            "model_id": ("Model ID", True, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
        },
    ),
    "openshift_ai": (
        "OpenShift AI",
        {"text_embedding", "completion", "chat_completion", "rerank"},
        {
            "url": ("URL", True, False, None),
            "model_id": ("Model ID", False, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
        },
    ),
    "hugging_face": (
        "Hugging Face",
        {"text_embedding", "sparse_embedding", "rerank", "completion", "chat_completion"},
        {
            "url": ("URL", True, False, None),
            "model_id": ("Model ID", False, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
        },
    ),
    "fireworksai": (
        "FireworksAI",
        {"text_embedding", "rerank"},
        {
            "model_id": ("Model ID", True, False, None),
            "api_key": KEY,
            "rate_limit.requests_per_minute": RATE,
            "url": ("URL", False, False, "https://api.fireworks.ai/inference/v1"),  # host
        },
    ),
}
NAME_THE_MODEL = "The name of the model to use for the inference task. "
DESCRIPTIONS = {
    (
        "mistral",
        "model",
    ): "Refer to the Mistral models documentation for the list of available inference models.",
    (
        "deepseek",
        "api_key",
    ): "The DeepSeek API authentication key. For more details about generating DeepSeek "
    "API keys, refer to https://api-docs.deepseek.com.",
    (
        "ai21",
        "model_id",
    ): "Refer to the AI21 models documentation for the list of available inference models.",
    ("llama", "model_id"): "Refer to the Llama models documentation for the list of available models.",
    ("groq", "model_id"): NAME_THE_MODEL
    + "Refer to the Groq models documentation for the list of available models.",
    ("nvidia", "model_id"): NAME_THE_MODEL
    + "Refer to the NVIDIA models documentation for the list of available models.",
    ("fireworksai", "model_id"): "The model ID to use for FireworksAI requests.",
    ("llama", "api_key"): "API Key for the provider you're connecting to.",
    ("openshift_ai", "rate_limit.requests_per_minute"): "Minimize the number of rate limit errors.",
}


@pytest.mark.parametrize("provider_id", FAMILY)
def test_the_services_descriptor_has_elasticsearchs_fields(provider_id: str) -> None:
    name, tasks, expected = ES_FIELDS[provider_id]
    desc = service_descriptor(provider_of(provider_id))
    assert (desc["name"], set(desc["task_types"])) == (name, tasks)
    got = {
        key: (f["label"], f["required"], f["updatable"], f.get("default_value"))
        for key, f in desc["configurations"].items()
    }
    assert got == expected
    assert all(f["sensitive"] == (key == "api_key") for key, f in desc["configurations"].items())
    for (pid, key), text in DESCRIPTIONS.items():
        if pid == provider_id:
            assert desc["configurations"][key]["description"] == text


# -- what each vendor's request carries (ES's request entities) -----------------------------------
# (provider, task, task settings, what the body must hold, keys it must not have)
BODIES = [
    # MistralChatCompletionRequestEntity: withMaxTokensAndSkipStreamOptionsField
    (
        "mistral",
        CHAT,
        {},
        {"model": "mistral-small-latest", "max_tokens": 64, "stream": True},
        {"stream_options", "max_completion_tokens"},
    ),
    (
        "mistral",
        EMBED,
        {},
        {"model": "mistral-embed", "input": ["Hello", "world"], "encoding_format": "float"},
        set(),
    ),
    # DeepSeek and AI21: withMaxTokens; stream_options kept
    (
        "deepseek",
        CHAT,
        {},
        {"max_tokens": 64, "stream_options": {"include_usage": True}},
        {"max_completion_tokens"},
    ),
    ("ai21", CHAT, {}, {"model": "jamba-mini", "max_tokens": 64, "n": None}, {"max_completion_tokens"}),
    ("ai21", COMPLETION, {}, {"model": "jamba-mini", "max_tokens": 64, "n": 1}, {"stream"}),
    # LlamaEmbeddingsRequestEntity
    (
        "llama",
        EMBED,
        {},
        {"model_id": "all-MiniLM-L6-v2", "contents": ["Hello", "world"]},
        {"input", "model"},
    ),
    # HuggingFace: `inputs` only; rerank entity
    ("hugging_face", EMBED, {}, {"inputs": ["Hello", "world"]}, {"model", "model_id"}),
    (
        "hugging_face",
        RERANK,
        {"return_documents": True},
        {"query": "greeting", "top_n": 2, "return_documents": True},
        {"model"},
    ),
    # NvidiaEmbeddingsRequestEntity / NvidiaRerankRequestEntity
    (
        "nvidia",
        EMBED,
        {"truncate": "END"},
        {"input_type": "query", "truncate": "END", "model": "nvidia/nv-embedqa-e5-v5"},
        set(),
    ),
    ("nvidia", EMBED, {"input_type": "ingest"}, {"input_type": "passage"}, {"truncate"}),
    (
        "nvidia",
        RERANK,
        {},
        {
            "query": {"text": "greeting"},
            "passages": [{"text": "goodbye"}, {"text": "hello there"}, {"text": "hi"}],
        },
        {"documents", "top_n"},
    ),
    (
        "openshift_ai",
        RERANK,
        {"top_n": 1},
        {"model": "bge-reranker-v2-m3", "documents": ["goodbye", "hello there", "hi"], "top_n": 2},
        set(),
    ),
    (
        "fireworksai",
        RERANK,
        {},
        {"model": "fireworks/qwen3-reranker-8b", "query": "greeting", "top_n": 2},
        set(),
    ),
]


@pytest.mark.parametrize(("provider_id", "task", "task_settings", "holds", "absent"), BODIES)
async def test_the_request_body_is_the_vendors(
    server: FakeServer,
    ctx_for: Callable[[str], CallContext],
    provider_id: str,
    task: TaskType,
    task_settings: dict[str, Any],
    holds: dict[str, Any],
    absent: set[str],
) -> None:
    fake = fake_module(provider_id).FAKE(server, api_key=CANARY)
    ep = endpoint(provider_id, task, fake.url, task_settings=task_settings)
    await run(provider_of(provider_id), ep, ctx_for(provider_id))
    body = fake.requests[-1].json()
    assert {k: body.get(k) for k in holds} == holds
    assert not absent & set(body)


def test_default_urls_are_the_vendors() -> None:
    """ES's defaults: DeepSeek's full chat URL; NVIDIA's URL per task type (SPEC NvidiaServiceSettings)."""
    deepseek, nvidia = provider_of("deepseek"), provider_of("nvidia")
    bare = {"model_id": "m"}
    assert deepseek.urls(InferenceEndpoint("d", CHAT, bare, {"api_key": "k"}), {}) == [
        "https://api.deepseek.com/chat/completions"
    ]
    assert [
        nvidia.urls(InferenceEndpoint("n", t, bare, {"api_key": "k"}), {})[0] for t in (EMBED, CHAT, RERANK)
    ] == [
        "https://integrate.api.nvidia.com/v1/embeddings",
        "https://integrate.api.nvidia.com/v1/chat/completions",
        "https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking",
    ]


# -- what a vendor answers its own way ------------------------------------------------------------
async def test_rerank_results_come_back_best_first_with_documents_as_asked(
    server: FakeServer, ctx_for: Callable[[str], CallContext]
) -> None:
    for provider_id in ("nvidia", "hugging_face", "openshift_ai", "fireworksai"):
        server.reset(routes=True)
        fake = fake_module(provider_id).FAKE(server, api_key=CANARY)
        provider, ctx = provider_of(provider_id), ctx_for(provider_id)
        ep = endpoint(provider_id, RERANK, fake.url)
        full = await run(provider, ep, ctx, RerankRequest(query="q", input=("a", "b", "c")))
        assert [r.score for r in full] == sorted((r.score for r in full), reverse=True), provider_id
        assert {r.index: r.text for r in full} == {0: "a", 1: "b", 2: "c"}, provider_id
        bare = await run(
            provider, ep, ctx, RerankRequest(query="q", input=("a", "b"), top_n=1, return_documents=False)
        )
        assert len(bare) == 1 and bare[0].text is None, provider_id


async def test_hugging_face_loading_model_is_retryable_after_its_estimate(
    server: FakeServer, ctx_for: Callable[[str], CallContext]
) -> None:
    testing = fake_module("hugging_face")
    server.add("POST", "/.*", testing.loading_response(20.0))
    with pytest.raises(ProviderServerError) as info:
        await run(
            provider_of("hugging_face"), endpoint("hugging_face", EMBED, server.url), ctx_for("hugging_face")
        )
    assert (info.value.status, info.value.retryable, info.value.retry_after) == (503, True, 20.0)
    assert info.value.provider_message == "Model tgi is currently loading"


@pytest.mark.parametrize(
    ("provider_id", "marker"),
    [
        ("deepseek", ": keep-alive"),
        ("groq", '"x_groq":{"id":"req_01jbd6g2qdfw2adyrt2az8hz4w","usage"'),
        ("mistral", '"finish_reason":"stop"}],"usage"'),
    ],
)
async def test_a_vendors_own_stream_framing_streams_alike(
    server: FakeServer, ctx_for: Callable[[str], CallContext], provider_id: str, marker: str
) -> None:
    """DeepSeek's keep-alive comments, Groq's `x_groq`, Mistral's usage on the finish chunk."""
    fake = fake_module(provider_id).FAKE(server, api_key=CANARY)
    fake.stream(["Hi", " you"], prompt_tokens=3, completion_tokens=2)
    ep = endpoint(provider_id, CHAT, fake.url)
    path = {"deepseek": "/chat/completions", "groq": "/openai/v1/chat/completions"}.get(
        provider_id, "/v1/chat/completions"
    )
    async with ctx_for(provider_id).client.stream("POST", fake.url + path, json={"stream": True}) as raw:
        assert marker in (await raw.aread()).decode()
    chunks = await run(provider_of(provider_id), ep, ctx_for(provider_id))
    assert "".join(c.content or "" for c in chunks) == "Hi you"
    assert [c.usage.to_dict() for c in chunks if c.usage] == [
        {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    ]
    assert chunks[-1].is_usage_only


# -- through the host: saved, Save & test, run -----------------------------------------------------
SUBACTIONS: dict[TaskType, tuple[str, dict[str, Any]]] = {
    CHAT: ("unified_completion", {"body": {"messages": [{"role": "user", "content": "Say hello"}]}}),
    COMPLETION: ("completion", {"input": "Say hello"}),
    EMBED: ("text_embedding", {"input": "The sky", "inputType": "ingest"}),
    SPARSE: ("sparse_embedding", {"input": "The sky"}),
    RERANK: ("rerank", {"input": ["luke", "like", "leia"], "query": "star wars"}),
}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Any]:
    from ai_connector.host.service import ConnectorService
    from ai_connector.host.settings import HostSettings

    settings = HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path / "home")})
    svc = await ConnectorService.open(settings, registry=default_registry())
    yield svc
    await svc.aclose()


@pytest.mark.parametrize(("provider_id", "task"), TASK_ROWS)
async def test_saved_tested_and_run_through_the_host(
    server: FakeServer, service: Any, provider_id: str, task: TaskType
) -> None:
    fake = fake_module(provider_id).FAKE(server, api_key=CANARY)
    config, secrets = fake.connector(task.value)
    body = {
        "name": f"{provider_id} {task.value}",
        "connector_type_id": ".inference",
        "config": {
            "provider": provider_id,
            "taskType": task.value,
            "inferenceId": "e1",
            "providerConfig": config,
        },
        "secrets": {"providerSecrets": secrets},
    }
    created = await service.create(body, connector_id="c1")
    assert created["is_missing_secrets"] is False and CANARY not in json.dumps(created)
    result = await service.test("c1")
    assert result.ok, result.message
    subaction, params = SUBACTIONS[task]
    answer = await service.execute("c1", subaction, params)
    assert answer["status"] == "ok", answer
    assert answer["data"] and CANARY not in json.dumps(answer)
