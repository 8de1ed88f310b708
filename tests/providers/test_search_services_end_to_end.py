"""Cohere, Jina AI, Voyage AI and Contextual AI through the host, each against its own fake: save a
connector, Save & test it, run Kibana's sub-action for its task type and get Kibana's answer shape."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ai_connector.host.errors import BadRequestError
from ai_connector.host.service import ConnectorService
from ai_connector.host.settings import HostSettings
from ai_connector.manager import load_registry
from ai_connector.testing import FakeServer

SECRET = "canary-search-e2e-6a0f2d9c81"
SERVICES = ["cohere", "jinaai", "voyageai", "contextualai"]
FAKES = {
    "cohere": "FakeCohere",
    "jinaai": "FakeJina",
    "voyageai": "FakeVoyage",
    "contextualai": "FakeContextual",
}
PARAMS = {
    "completion": {"input": "What is Elastic?"},
    "text_embedding": {"input": ["a", "b"], "inputType": "ingest"},
    "rerank": {"query": "star wars", "input": ["moon", "star wars"]},
}
ROWS = [
    ("cohere", "completion"),
    ("cohere", "text_embedding"),
    ("cohere", "rerank"),
    ("jinaai", "text_embedding"),
    ("jinaai", "rerank"),
    ("voyageai", "text_embedding"),
    ("voyageai", "rerank"),
    ("contextualai", "rerank"),
]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FakeServer]]:
    """One fake per service (Jina AI, Voyage AI and Contextual AI share paths)."""
    with contextlib.ExitStack() as stack:
        out = {}
        for provider_id in SERVICES:
            out[provider_id] = stack.enter_context(FakeServer())
            testing = importlib.import_module(f"ai_connector_{provider_id}.testing")
            getattr(testing, FAKES[provider_id])(out[provider_id], api_key=SECRET)
        yield out


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ConnectorService]:
    plugins = [(p, importlib.import_module(f"ai_connector_{p}")) for p in SERVICES]
    settings = HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path / "home")})
    svc = await ConnectorService.open(settings, registry=load_registry(entry_points=False, plugins=plugins))
    yield svc
    await svc.aclose()


def body(provider_id: str, task: str, url: str) -> dict:
    testing = importlib.import_module(f"ai_connector_{provider_id}.testing")
    config, secrets = testing.connector(url, task, secret=SECRET)
    return {
        "name": f"{provider_id} {task}",
        "connector_type_id": ".inference",
        "config": {"provider": provider_id, "taskType": task, "providerConfig": config},
        "secrets": {"providerSecrets": secrets},
    }


@pytest.mark.parametrize(("provider_id", "task"), ROWS)
async def test_save_test_and_run(
    service: ConnectorService, servers: dict[str, FakeServer], provider_id: str, task: str
) -> None:
    url = servers[provider_id].url
    created = await service.create(body(provider_id, task, url), connector_id=f"{provider_id}-{task}")
    assert created["config"]["provider"] == provider_id and "secrets" not in created
    result = await service.test(created["id"])
    assert result.ok, result.message
    answer = await service.execute(created["id"], task, PARAMS[task])
    assert answer["status"] == "ok", answer
    data = answer["data"]
    if task == "completion":
        assert data == [{"result": "Hello!"}]
    elif task == "text_embedding":
        assert len(data) == 2 and all(len(item["embedding"]) == 8 for item in data)
    else:
        assert data[0]["index"] == 1 and set(data[0]) <= {"index", "score", "text"}
        assert data[0]["score"] >= data[-1]["score"]
    assert SECRET not in str(answer)


async def test_a_cohere_connector_without_a_model_is_refused_at_save(
    service: ConnectorService, servers: dict[str, FakeServer]
) -> None:
    document = body("cohere", "text_embedding", servers["cohere"].url)
    del document["config"]["providerConfig"]["model_id"]
    with pytest.raises(
        BadRequestError, match=r"The \[service_settings.model_id\] field is required for the Cohere V2 API"
    ):
        await service.create(document, connector_id="no-model")
    assert await service.list() == []
