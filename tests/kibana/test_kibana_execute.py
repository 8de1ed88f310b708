"""`_execute` as Kibana answers it: result shapes, what reaches the service, and error bodies.

Each test names the Kibana file its facts come from (elastic/kibana, x-pack/platform/... unless the
path says otherwise). The EIS connector talks to a wire-exact fake Elasticsearch, the OpenAI one to
a wire-exact fake OpenAI, the `fake` one to the API suite's fake service.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_fakes import CANARY, FakePlugin
from api_helpers import ALL, connector_body

from ai_connector.manager import load_registry
from ai_connector.testing import FakeResponse, FakeServer

elastic_plugin = pytest.importorskip("ai_connector_elastic")
elastic_testing = pytest.importorskip("ai_connector_elastic.testing")
openai_plugin = pytest.importorskip("ai_connector_openai")
openai_testing = pytest.importorskip("ai_connector_openai.testing")

ES_KEY = "es-host-key-canary-5f1e2d3c"
HELLO = {"body": {"messages": [{"role": "user", "content": "What is Elastic?"}]}}


@pytest.fixture(scope="module")
def registry() -> Any:
    return load_registry(
        entry_points=False,
        plugins=[("fake", FakePlugin()), ("elastic", elastic_plugin), ("openai", openai_plugin)],
    )


@pytest.fixture
def es(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with FakeServer() as server:
        fake = elastic_testing.FakeElasticsearch(server, api_key=ES_KEY)
        monkeypatch.setenv("AI_CONNECTOR_ELASTICSEARCH_URL", server.url)
        monkeypatch.setenv("AI_CONNECTOR_ELASTICSEARCH_API_KEY", ES_KEY)
        yield fake


@pytest.fixture
def openai_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        openai_testing.serve_chat(server, ["Hello", " there"])
        yield server


async def _eis(es: Any, client: httpx.AsyncClient, task: str) -> str:
    """An EIS connector on the deployment's preconfigured endpoint for `task`, with empty secrets."""
    inference_id = f".{task}-elastic"
    es.add_endpoint(inference_id, task)
    body = {
        "name": f"EIS {task}",
        "connector_type_id": ".inference",
        "config": {
            "provider": "elastic",
            "taskType": task,
            "inferenceId": inference_id,
            "providerConfig": {"model_id": elastic_testing.DEFAULT_MODELS[task]},
        },
        "secrets": {},
    }
    response = await client.post("/api/actions/connector", json=body, headers=ALL)
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def _execute(client: httpx.AsyncClient, cid: str, sub_action: str, params: Any) -> httpx.Response:
    body = {"params": {"subAction": sub_action, "subActionParams": params}}
    return await client.post(f"/api/actions/connector/{cid}/_execute", json=body, headers=ALL)


# -- stack_connectors/common/inference/schema.ts and kbn-connector-schemas inference v1.ts
# -- (providerConfig and providerSecrets default to {}: an EIS connector needs neither)


async def test_an_eis_connector_is_created_with_only_provider_task_type_and_inference_id(
    es: Any, client: httpx.AsyncClient
) -> None:
    es.add_endpoint(".rainbow-sprinkles-elastic", "chat_completion")
    body = {
        "name": "EIS chat",
        "connector_type_id": ".inference",
        "config": {
            "provider": "elastic",
            "taskType": "chat_completion",
            "inferenceId": ".rainbow-sprinkles-elastic",
        },
        "secrets": {},
    }
    created = await client.post("/api/actions/connector", json=body, headers=ALL)
    assert created.status_code == 200, created.text
    assert created.json()["is_missing_secrets"] is False
    answer = await _execute(client, created.json()["id"], "unified_completion", HELLO)
    assert answer.json()["status"] == "ok", answer.text


async def test_a_new_eis_endpoint_still_needs_a_model_id(es: Any, client: httpx.AsyncClient) -> None:
    body = {
        "name": "EIS chat",
        "connector_type_id": ".inference",
        "config": {"provider": "elastic", "taskType": "chat_completion", "inferenceId": "my-new-endpoint"},
        "secrets": {},
    }
    refused = await client.post("/api/actions/connector", json=body, headers=ALL)
    assert refused.status_code == 400
    assert "[model_id]" in refused.json()["message"]


# -- stack_connectors/server/connector_types/inference/inference.test.ts and inference.ts


async def test_unified_completion_sends_the_callers_plugin_id_as_the_product_use_case(
    es: Any, client: httpx.AsyncClient
) -> None:
    cid = await _eis(es, client, "chat_completion")
    params = {**HELLO, "telemetryMetadata": {"pluginId": "security_ai_assistant"}}
    answer = await _execute(client, cid, "unified_completion", params)
    assert answer.json()["status"] == "ok", answer.text
    assert es.server.last.path == "/_inference/chat_completion/.chat_completion-elastic/_stream"
    assert es.server.last.headers["x-elastic-product-use-case"] == "security_ai_assistant"
    assert "n" not in es.server.last.json()  # "exclude n param for now"


async def test_without_telemetry_metadata_the_product_use_case_is_inference(
    es: Any, client: httpx.AsyncClient
) -> None:
    cid = await _eis(es, client, "chat_completion")
    assert (await _execute(client, cid, "unified_completion", {**HELLO})).json()["status"] == "ok"
    assert es.server.last.headers["x-elastic-product-use-case"] == "inference"


async def test_rerank_answers_score_for_relevance_score(es: Any, client: httpx.AsyncClient) -> None:
    cid = await _eis(es, client, "rerank")
    es.then(
        FakeResponse.json(
            {
                "rerank": [
                    {"index": 2, "relevance_score": 0.011597361, "text": "leia"},
                    {"index": 0, "relevance_score": 0.006338922, "text": "luke"},
                ]
            }
        )
    )
    answer = await _execute(client, cid, "rerank", {"input": ["luke", "like", "leia"], "query": "star wars"})
    assert answer.json()["data"] == [
        {"index": 2, "score": 0.011597361, "text": "leia"},
        {"index": 0, "score": 0.006338922, "text": "luke"},
    ]


async def test_sparse_embedding_is_passed_through_in_elasticsearchs_shape(
    es: Any, client: httpx.AsyncClient
) -> None:
    cid = await _eis(es, client, "sparse_embedding")
    es.then(FakeResponse.json({"sparse_embedding": [{"is_truncated": False, "embedding": {"port": 2.12}}]}))
    answer = await _execute(client, cid, "sparse_embedding", {"input": "The sky above the port"})
    assert answer.json() == {
        "status": "ok",
        "connector_id": cid,
        "data": [{"is_truncated": False, "embedding": {"port": 2.12}}],
    }


async def test_text_embedding_sends_input_type_as_task_settings(es: Any, client: httpx.AsyncClient) -> None:
    cid = await _eis(es, client, "text_embedding")
    answer = await _execute(client, cid, "text_embedding", {"input": "Hello world", "inputType": "ingest"})
    assert answer.json()["status"] == "ok", answer.text
    assert es.server.last.json() == {"input": ["Hello world"], "task_settings": {"input_type": "ingest"}}


# -- inference plugin server/chat_complete/utils/get_temperature.ts (getTemperatureIfValid)


async def _openai(client: httpx.AsyncClient, server: FakeServer, model: str, **config: Any) -> str:
    provider_config, secrets = openai_testing.connector(server.url, secret=CANARY)
    body = {
        "name": "OpenAI",
        "connector_type_id": ".inference",
        "config": {
            "provider": "openai",
            "taskType": "chat_completion",
            "inferenceId": f"openai-{model}",
            "providerConfig": {**provider_config, "model_id": model},
            **config,
        },
        "secrets": {"providerSecrets": secrets},
    }
    response = await client.post("/api/actions/connector", json=body, headers=ALL)
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def test_the_connectors_temperature_wins_over_the_requests(
    client: httpx.AsyncClient, openai_server: FakeServer
) -> None:
    cid = await _openai(client, openai_server, "gpt-4o", temperature=0)
    params = {"body": {**HELLO["body"], "temperature": 0.9}}
    assert (await _execute(client, cid, "unified_completion", params)).json()["status"] == "ok"
    assert openai_server.last.json()["temperature"] == 0


async def test_models_that_refuse_temperature_get_none(
    client: httpx.AsyncClient, openai_server: FakeServer
) -> None:
    cid = await _openai(client, openai_server, "gpt-5-mini")
    params = {"body": {**HELLO["body"], "temperature": 0.7}}
    assert (await _execute(client, cid, "unified_completion", params)).json()["status"] == "ok"
    assert "temperature" not in openai_server.last.json()


async def test_otherwise_the_requests_temperature_is_sent(
    client: httpx.AsyncClient, openai_server: FakeServer
) -> None:
    cid = await _openai(client, openai_server, "gpt-4o")
    params = {"body": {**HELLO["body"], "temperature": 0.7}}
    assert (await _execute(client, cid, "unified_completion", params)).json()["status"] == "ok"
    assert openai_server.last.json()["temperature"] == 0.7


# -- platform/test/alerting_api_integration/spaces_only/tests/actions/execute.ts


async def test_an_unknown_connector_is_kibanas_saved_object_404(client: httpx.AsyncClient) -> None:
    response = await _execute(client, "nope", "unified_completion", HELLO)
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/nope] not found",
    }


# -- stack_connectors/server/connector_types/inference/error_propagation.test.ts and helpers.test.ts
# -- (upstream credentials are redacted from the connector's error, any Bearer token included)


async def test_upstream_credentials_are_redacted_from_the_error(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = (await client.post("/api/actions/connector", json=connector_body(server), headers=ALL)).json()["id"]
    leaked = "Bearer abc123 sk-live-abcdef123456 api_key: secret123 authorization: token123"
    server.add("POST", "/chat", FakeResponse.json({"error": leaked}, 401))
    body = (await _execute(client, cid, "unified_completion", HELLO)).json()
    assert body["status"] == "error"
    for secret in ("abc123", "sk-live-abcdef123456", "secret123", "token123"):
        assert secret not in body["service_message"]
    assert "redacted" in body["service_message"].lower()  # Kibana writes [redacted], we [REDACTED]


# -- platform/test/alerting_api_integration/spaces_only/tests/actions/execute.ts ("should handle
# -- failed executions") and lib/action_executor.ts: a thrown error is `retry: true`


async def _fake(client: httpx.AsyncClient, server: FakeServer) -> str:
    response = await client.post("/api/actions/connector", json=connector_body(server), headers=ALL)
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def test_an_upstream_5xx_is_kibanas_failed_execution_body(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = await _fake(client, server)
    server.add("POST", "/chat", FakeResponse.json({"error": "overloaded"}, 503))
    response = await _execute(client, cid, "unified_completion", HELLO)
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "connector_id": cid,
        "status": "error",
        "message": "an error occurred while running the action",
        "service_message": body["service_message"],
        "retry": True,
        "errorSource": "framework",
    }
    assert body["service_message"].startswith(
        "Inference endpoint [fake-chat_completion-1] returned status code 503"
    )


# -- stack_connectors/server/connector_types/inference/error_propagation.test.ts


async def test_an_upstream_4xx_names_the_endpoint_and_status_and_is_the_users(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = await _fake(client, server)
    upstream = {"error": {"message": "maximum context length is 8192 tokens", "type": "BadRequestError"}}
    server.add("POST", "/chat", FakeResponse.json(upstream, 400))
    body = (await _execute(client, cid, "unified_completion", HELLO)).json()
    assert body["errorSource"] == "user" and body["retry"] is True
    message = body["service_message"]
    assert message.startswith("Inference endpoint [fake-chat_completion-1] returned status code 400: ")
    assert "maximum context length is 8192 tokens" in message


async def test_the_upstream_body_in_the_error_is_capped_at_1000_characters(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = await _fake(client, server)
    server.add("POST", "/chat", FakeResponse(body=b"x" * 5000, status=500))
    body = (await _execute(client, cid, "unified_completion", HELLO)).json()
    message = body["service_message"]
    assert "500" in message and len(message) == 1000 and message.endswith("... [truncated]")
    assert body["errorSource"] == "framework"


async def test_an_empty_upstream_body_leaves_no_dangling_separator(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = await _fake(client, server)
    server.add("POST", "/chat", FakeResponse(body=b"", status=403))
    body = (await _execute(client, cid, "unified_completion", HELLO)).json()
    assert "status code 403" in body["service_message"]
    assert not body["service_message"].endswith(": ")
    assert body["errorSource"] == "user"


# -- plugins/shared/actions/server/sub_action_framework/executor.ts and executor.test.ts


async def test_an_unknown_sub_action_is_not_registered_for_the_connector_type(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = await _fake(client, server)
    body = (await _execute(client, cid, "not-exist", {})).json()
    assert body == {
        "status": "error",
        "connector_id": cid,
        "message": "an error occurred while running the action",
        "service_message": (
            f'Sub action "not-exist" is not registered. Connector id: {cid}. '
            "Connector name: AI Connector. Connector type: .inference"
        ),
        "retry": True,
        "errorSource": "framework",
    }


async def test_invalid_sub_action_params_are_a_request_validation_failure_of_the_user(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = await _fake(client, server)
    body = (
        await _execute(client, cid, "unified_completion", {"body": {"messages": []}, "foo": "bar"})
    ).json()
    assert body["status"] == "error"
    assert body["message"] == "an error occurred while running the action"
    assert body["service_message"].startswith("Request validation failed (")
    assert body["retry"] is True and body["errorSource"] == "user"


# -- plugins/shared/actions/server/lib/action_executor.ts (validateAction: params the connector
# -- type's params schema refuses are the user's, not retried, with no service_message)


async def test_params_without_a_sub_action_are_an_action_params_error_of_the_user(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    cid = await _fake(client, server)
    response = await client.post(
        f"/api/actions/connector/{cid}/_execute", json={"params": {"subActionParams": {}}}, headers=ALL
    )
    body = response.json()
    assert body["status"] == "error" and body["connector_id"] == cid
    assert body["message"].startswith("error validating action params: ")
    assert "service_message" not in body
    assert body["retry"] is False and body["errorSource"] == "user"
