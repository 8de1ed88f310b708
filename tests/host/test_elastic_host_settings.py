"""The product page's EIS promise: an `elastic` connector needs no credentials of its own — the host's
Elasticsearch URL and API key (AI_CONNECTOR_ELASTICSEARCH_URL / _API_KEY) reach it."""

from __future__ import annotations

import pytest

from ai_connector.host.service import ConnectorService
from ai_connector.manager import load_registry
from ai_connector.testing.fakeserver import FakeServer

elastic_plugin = pytest.importorskip("ai_connector_elastic")
elastic_testing = pytest.importorskip("ai_connector_elastic.testing")

HOST_KEY = "host-es-api-key-canary-77aa"


async def test_an_elastic_connector_without_credentials_uses_the_hosts(settings, monkeypatch, caplog) -> None:
    with FakeServer() as server:
        fake = elastic_testing.FakeElasticsearch(server, api_key=HOST_KEY, pieces=["EIS", " says hi"])
        monkeypatch.setenv("AI_CONNECTOR_ELASTICSEARCH_URL", server.url)
        monkeypatch.setenv("AI_CONNECTOR_ELASTICSEARCH_API_KEY", HOST_KEY)
        registry = load_registry(entry_points=False, plugins=[("elastic", elastic_plugin)])
        service = await ConnectorService.open(settings, registry=registry)
        try:
            body = {
                "name": "EIS chat",
                "connector_type_id": ".inference",
                "config": {
                    "provider": "elastic",
                    "taskType": "chat_completion",
                    "inferenceId": "eis-chat",
                    "providerConfig": {"model_id": "rainbow-sprinkles"},
                },
                "secrets": {"providerSecrets": {}},
            }
            created = await service.create(body, connector_id="eis")
            assert created["is_missing_secrets"] is False
            assert ("chat_completion", "eis-chat") in fake.endpoints  # Kibana's preSaveHook made it
            answer = await service.execute(
                "eis", "unified_completion", {"body": {"messages": [{"role": "user", "content": "hi"}]}}
            )
        finally:
            await service.aclose()
    assert answer["status"] == "ok", answer
    assert answer["data"]["choices"][0]["message"]["content"] == "EIS says hi"
    assert server.last.headers["authorization"] == f"ApiKey {HOST_KEY}"
    assert HOST_KEY not in caplog.text
