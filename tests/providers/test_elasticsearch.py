"""The `elasticsearch` provider (models on a cluster's ML nodes) against its wire-exact fake cluster:
ES's `_services` fields, the endpoint it owns, each task type's call, ES's errors typed, Save & test."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

import ai_connector_elasticsearch as plugin
import ai_connector_elasticsearch.testing as es_testing
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.http import build_client
from ai_connector.plugin import (
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidRequestError,
    ModelNotFoundError,
    RateLimitError,
    RerankRequest,
    SparseEmbeddingRequest,
    TaskType,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector_elasticsearch.testing import (
    E5_DIMENSIONS,
    FakeCluster,
    es_error,
    queue_full,
    security_exception,
)

CANARY = "canary-es-ml-key-5e1f0c3a9b"
HOST_KEY = "canary-es-ml-host-key-77d2"
PROVIDER = plugin.PROVIDER
TASKS = [TaskType.TEXT_EMBEDDING, TaskType.SPARSE_EMBEDDING, TaskType.RERANK]
PRECONFIGURED = {
    TaskType.TEXT_EMBEDDING: ".multilingual-e5-small-elasticsearch",
    TaskType.SPARSE_EMBEDDING: ".elser-2-elasticsearch",
    TaskType.RERANK: ".rerank-v1-elasticsearch",
}


@pytest.fixture
def cluster(server: FakeServer) -> FakeCluster:
    return FakeCluster(server, api_key=CANARY)


def endpoint(
    url: str | None,
    task: TaskType,
    *,
    inference_id: str | None = None,
    secret: str | None = CANARY,
    **settings: Any,
) -> InferenceEndpoint:
    values = {"model_id": es_testing.DEFAULT_MODEL[task.value], "num_allocations": 1, "num_threads": 2}
    values.update(settings)
    if url is not None:
        values["url"] = url
    return InferenceEndpoint(
        inference_id=inference_id or PRECONFIGURED[task],
        task_type=task,
        settings=values,
        secrets=Secrets({"api_key": secret} if secret else {}),
    )


@asynccontextmanager
async def context(host: Mapping[str, Any] | None = None) -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(
            client=client,
            provider_id="elasticsearch",
            redactor=Redactor([CANARY]),
            host_settings=dict(host or {}),
        )


async def call(task: TaskType, ep: InferenceEndpoint, host: Mapping[str, Any] | None = None) -> Any:
    async with context(host) as ctx:
        if task is TaskType.TEXT_EMBEDDING:
            return await PROVIDER.text_embedding(
                ep, EmbeddingRequest(input=["a cat", "a dog"], input_type="search"), ctx
            )
        if task is TaskType.SPARSE_EMBEDDING:
            return await PROVIDER.sparse_embedding(ep, SparseEmbeddingRequest(input=["the quick fox"]), ctx)
        return await PROVIDER.rerank(
            ep, RerankRequest(query="star wars", input=["luke", "star wars", "leia"]), ctx
        )


def test_declares_es_configuration() -> None:
    # ElasticsearchInternalService.Configuration (x-pack/plugin/inference/.../elasticsearch/), task types
    # TaskTypeElasticsearch in elasticsearch-specification: rerank, text_embedding, sparse_embedding.
    assert PROVIDER.id == "elasticsearch" and PROVIDER.name == "Elasticsearch"
    assert PROVIDER.task_types == set(TASKS)
    conf = service_descriptor(PROVIDER)["configurations"]
    assert conf["model_id"]["label"] == "Model ID" and conf["model_id"]["required"]
    assert conf["model_id"]["description"] == "The name of the model to use for the inference task."
    assert {
        k: conf["num_allocations"][k] for k in ("label", "required", "updatable", "type", "default_value")
    } == {
        "label": "Number Allocations",
        "required": True,
        "updatable": True,
        "type": "int",
        "default_value": 1,
    }
    assert conf["num_allocations"]["description"] == (
        "The total number of allocations this model is assigned across machine learning nodes."
    )
    assert {
        k: conf["num_threads"][k] for k in ("label", "required", "updatable", "type", "default_value")
    } == {
        "label": "Number Threads",
        "required": True,
        "updatable": False,
        "type": "int",
        "default_value": 2,
    }
    assert (
        conf["num_threads"]["description"]
        == "Sets the number of threads used by each model allocation during inference."
    )
    assert not conf["api_key"]["required"] and conf["api_key"]["sensitive"] and not conf["url"]["required"]
    assert PROVIDER.host_settings_env == {
        "url": "AI_CONNECTOR_ELASTICSEARCH_URL",
        "api_key": "AI_CONNECTOR_ELASTICSEARCH_API_KEY",
    }


async def test_text_embedding_sends_input_type_and_reads_vectors(
    cluster: FakeCluster, server: FakeServer
) -> None:
    vectors = await call(TaskType.TEXT_EMBEDDING, endpoint(server.url, TaskType.TEXT_EMBEDDING))
    assert len(vectors) == 2 and all(len(v) == E5_DIMENSIONS for v in vectors) and vectors[0] != vectors[1]
    sent = server.requests[-1]
    assert sent.path == "/_inference/text_embedding/.multilingual-e5-small-elasticsearch"
    assert sent.json() == {"input": ["a cat", "a dog"], "input_type": "search"}
    assert sent.headers["authorization"] == f"ApiKey {CANARY}"


async def test_sparse_embedding_reads_token_weights(cluster: FakeCluster, server: FakeServer) -> None:
    [weights] = await call(TaskType.SPARSE_EMBEDDING, endpoint(server.url, TaskType.SPARSE_EMBEDDING))
    assert set(weights) == {"the", "quick", "fox"} and weights["quick"] == pytest.approx(1.5)
    assert server.requests[-1].json() == {"input": ["the quick fox"]}


async def test_rerank_is_best_first_with_documents_and_top_n(
    cluster: FakeCluster, server: FakeServer
) -> None:
    results = await call(TaskType.RERANK, endpoint(server.url, TaskType.RERANK))
    assert [r.index for r in results] == [1, 0, 2] and results[0].text == "star wars"
    assert server.requests[-1].json()["task_settings"] == {"return_documents": True}
    async with context() as ctx:
        request = RerankRequest(
            query="star wars", input=["luke", "star wars"], top_n=1, return_documents=False
        )
        [best] = await PROVIDER.rerank(endpoint(server.url, TaskType.RERANK), request, ctx)
    assert best.index == 1 and best.text is None
    assert server.requests[-1].json()["task_settings"] == {"return_documents": False}


async def test_host_url_and_raw_key_pair_are_used(server: FakeServer) -> None:
    pair = f"key-id:{HOST_KEY}"
    FakeCluster(server, api_key=base64.b64encode(pair.encode()).decode())
    ep = endpoint(None, TaskType.SPARSE_EMBEDDING, secret=None)
    assert PROVIDER.urls is not None and PROVIDER.urls(ep, {}) == []
    assert await call(TaskType.SPARSE_EMBEDDING, ep, {"url": server.url + "/", "api_key": pair})
    with pytest.raises(InvalidRequestError) as info:
        await call(TaskType.SPARSE_EMBEDDING, ep)
    assert "AI_CONNECTOR_ELASTICSEARCH_URL" in str(info.value)


async def test_save_creates_the_endpoint_then_updates_only_its_allocations(
    cluster: FakeCluster, server: FakeServer
) -> None:
    ep = endpoint(server.url, TaskType.SPARSE_EMBEDDING, inference_id="my-elser", num_threads=4)
    async with context() as ctx:
        assert PROVIDER.on_save is not None and PROVIDER.on_delete is not None
        await PROVIDER.on_save(ep, ctx, False)
        put = server.requests[-1]
        assert (put.method, put.path) == ("PUT", "/_inference/sparse_embedding/my-elser")
        assert put.json() == {
            "service": "elasticsearch",
            "service_settings": {"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 4},
        }
        with pytest.raises(InvalidRequestError, match="already exists"):
            await PROVIDER.on_save(ep, ctx, False)
        more = endpoint(server.url, TaskType.SPARSE_EMBEDDING, inference_id="my-elser", num_allocations=3)
        await PROVIDER.on_save(more, ctx, True)
        assert server.requests[-1].path.endswith("/my-elser/_update")
        assert server.requests[-1].json() == {"service_settings": {"num_allocations": 3}}
        assert cluster.endpoints[("sparse_embedding", "my-elser")]["service_settings"]["num_allocations"] == 3
        await PROVIDER.on_delete(ep, ctx)
        assert ("sparse_embedding", "my-elser") not in cluster.endpoints
        await PROVIDER.on_delete(ep, ctx)  # already gone is fine
        preset = endpoint(server.url, TaskType.RERANK)
        await PROVIDER.on_save(preset, ctx, False)
        await PROVIDER.on_delete(preset, ctx)
        assert ("rerank", ".rerank-v1-elasticsearch") in cluster.endpoints  # never deleted


async def test_save_errors_from_the_cluster_are_typed(cluster: FakeCluster, server: FakeServer) -> None:
    async with context() as ctx:
        assert PROVIDER.on_save is not None
        unknown = endpoint(server.url, TaskType.TEXT_EMBEDDING, inference_id="e", model_id="no-such-model")
        with pytest.raises(ModelNotFoundError, match=r"Could not find trained model \[no-such-model\]"):
            await PROVIDER.on_save(unknown, ctx, False)
        odd = endpoint(server.url, TaskType.TEXT_EMBEDDING, inference_id="e", num_threads=3)
        with pytest.raises(InvalidRequestError, match="power of 2"):
            await PROVIDER.on_save(odd, ctx, False)
        missing = endpoint(server.url, TaskType.RERANK, inference_id=".no-such-preset")
        with pytest.raises(ModelNotFoundError):
            await PROVIDER.on_save(missing, ctx, False)


async def test_a_retry_hint_is_kept_and_the_host_key_is_redacted(
    cluster: FakeCluster, server: FakeServer
) -> None:
    hinted = queue_full()
    hinted.headers = [("Retry-After", "7")]
    server.queue(hinted)
    with pytest.raises(RateLimitError) as info:
        await call(TaskType.TEXT_EMBEDDING, endpoint(server.url, TaskType.TEXT_EMBEDDING))
    assert info.value.retry_after == 7
    server.queue(es_error(400, "status_exception", f"bad key {HOST_KEY}"))
    with pytest.raises(InvalidRequestError) as bad:
        await call(TaskType.RERANK, endpoint(server.url, TaskType.RERANK, secret=None), {"api_key": HOST_KEY})
    assert HOST_KEY not in str(bad.value)


@pytest.mark.parametrize("task", TASKS)
async def test_save_and_test(cluster: FakeCluster, server: FakeServer, task: TaskType) -> None:
    async with context() as ctx:
        assert (await PROVIDER.test(endpoint(server.url, task), ctx)).ok
        result = await PROVIDER.test(endpoint(server.url, task, inference_id="never-saved"), ctx)
    assert not result.ok and result.failure is FailureKind.MODEL_NOT_FOUND
    assert "never-saved" in result.message


class TestContract(ProviderContract):
    provider_id = "elasticsearch"
    fake = es_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return es_testing.connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        server.add("*", "/.*", lambda request: security_exception(request.path))
