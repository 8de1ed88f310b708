"""Kibana's connector routes, whole response bodies: an extra field (a secret!) fails these tests.

Create, get, list, update, delete, execute, test, the connector types and the `_services`
descriptors, with every status code the routes answer: 200, 204, 400, 404 and 409.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_fakes import CANARY
from api_helpers import ALL, READ, assert_no_secret, connector_body

from ai_connector.testing import FakeResponse

CHAT = {"subAction": "unified_completion", "subActionParams": {"body": {"messages": [
    {"role": "user", "content": "Hello world"}]}}}  # fmt: skip


def saved(server, cid: str, *, name: str = "My fake", task: str = "chat_completion", **config: Any):
    """Kibana's connector object for a saved fake connector."""
    return {
        "id": cid,
        "name": name,
        "config": {
            "inferenceId": f"fake-{task}-1",
            "provider": "fake",
            "providerConfig": {"model_id": "fake-model", "url": server.url, **config},
            "taskType": task,
            "taskTypeConfig": {},
        },
        "connector_type_id": ".inference",
        "is_preconfigured": False,
        "is_deprecated": False,
        "is_missing_secrets": False,
        "is_system_action": False,
        "is_connector_type_deprecated": False,
        "auth_mode": "shared",
    }


async def _create(client, server, **kw: Any) -> dict[str, Any]:
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server, **kw))
    assert resp.status_code == 200, resp.text
    return resp.json()


# --- connector types and services --------------------------------------------------------------


async def test_connector_types_shows_the_ai_connector_type(client) -> None:
    resp = await client.get("/api/actions/connector_types", headers=READ)
    assert resp.status_code == 200
    assert resp.json() == [
        {
            "id": ".inference",
            "name": "AI Connector",
            "enabled": True,
            "enabled_in_config": True,
            "enabled_in_license": True,
            "minimum_license_required": "enterprise",
            "supported_feature_ids": [
                "generativeAIForSecurity",
                "generativeAIForObservability",
                "generativeAIForSearchPlayground",
            ],
            "is_system_action_type": False,
            "is_deprecated": False,
            "source": "stack",
        }
    ]


@pytest.mark.parametrize(("feature", "count"), [("generativeAIForSecurity", 1), ("alerting", 0)])
async def test_connector_types_filter_by_feature_id(client, feature: str, count: int) -> None:
    resp = await client.get("/api/actions/connector_types", params={"feature_id": feature}, headers=READ)
    assert resp.status_code == 200
    assert len(resp.json()) == count


async def test_services_lists_every_provider_as_an_elasticsearch_descriptor(client) -> None:
    resp = await client.get("/internal/_inference/_services", headers=READ)
    assert resp.status_code == 200
    both = ["chat_completion", "text_embedding"]
    assert resp.json() == [
        {
            "service": "fake",
            "name": "Fake LLM",
            "task_types": both,
            "configurations": {
                "api_key": {
                    "label": "API Key",
                    "required": True,
                    "sensitive": True,
                    "updatable": True,
                    "type": "str",
                    "supported_task_types": both,
                },
                "dimensions": {
                    "label": "Dimensions",
                    "required": False,
                    "sensitive": False,
                    "updatable": False,
                    "type": "int",
                    "supported_task_types": ["text_embedding"],
                },
                "model_id": {
                    "description": "The model to use.",
                    "label": "Model ID",
                    "required": True,
                    "sensitive": False,
                    "updatable": False,
                    "type": "str",
                    "supported_task_types": both,
                },
                "url": {
                    "description": "The service's base URL.",
                    "label": "URL",
                    "required": True,
                    "sensitive": False,
                    "updatable": False,
                    "type": "str",
                    "supported_task_types": both,
                },
            },
        }
    ]


# --- create ------------------------------------------------------------------------------------


async def test_create_returns_kibanas_connector_object_without_secrets(client, server) -> None:
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200
    body = resp.json()
    uuid.UUID(body["id"])
    assert body == saved(server, body["id"])
    assert_no_secret(resp)


async def test_create_with_an_id_then_again_is_a_409_and_changes_nothing(client, server) -> None:
    resp = await client.post("/api/actions/connector/my-fake", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200
    assert resp.json() == saved(server, "my-fake")
    again = await client.post(
        "/api/actions/connector/my-fake", headers=ALL, json=connector_body(server, name="Other")
    )
    assert again.status_code == 409
    assert again.json() == {
        "statusCode": 409,
        "error": "Conflict",
        "message": "Saved object [action/my-fake] conflict",
    }
    got = await client.get("/api/actions/connector/my-fake", headers=ALL)
    assert got.json() == saved(server, "my-fake")


async def test_create_reports_every_invalid_field_with_its_path_and_label(client, server) -> None:
    body = connector_body(server)
    body["config"]["providerConfig"] = {"url": "not a url"}
    body["secrets"] = {}
    resp = await client.post("/api/actions/connector", headers=ALL, json=body)
    assert resp.status_code == 400
    errors = [
        {
            "path": "config.providerConfig.model_id",
            "field": "model_id",
            "label": "Model ID",
            "message": "Model ID is required",
        },
        {
            "path": "config.providerConfig.url",
            "field": "url",
            "label": "URL",
            "message": "URL must be an http(s) URL",
        },
        {
            "path": "secrets.providerSecrets.api_key",
            "field": "api_key",
            "label": "API Key",
            "message": "API Key is required",
        },
    ]
    assert resp.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "error validating connector type config: "
        + "; ".join(f"[{e['path']}]: {e['message']}" for e in errors),
        "attributes": {"errors": errors},
    }
    listed = await client.get("/api/actions/connectors", headers=ALL)
    assert listed.json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"connector_type_id": ".inference", "config": {}},
            "[request body.name]: expected value of type [string] but got [undefined]",
        ),
        (
            {"name": 7, "connector_type_id": ".inference", "config": {}},
            "[request body.name]: expected value of type [string] but got [number]",
        ),
        (
            {"name": "x", "connector_type_id": ".inference", "config": []},
            "[request body.config]: expected value of type [Object] but got [Array]",
        ),
        (
            {"name": "x", "connector_type_id": ".inference", "config": {}, "extra": 1},
            "[request body.extra]: definition for this key is missing",
        ),
    ],
)
async def test_a_malformed_create_body_is_a_400_in_kibanas_words(client, body, message) -> None:
    resp = await client.post("/api/actions/connector", headers=ALL, json=body)
    assert resp.status_code == 400
    assert resp.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


async def test_create_with_an_unknown_type_or_service_is_a_400(client, server) -> None:
    resp = await client.post(
        "/api/actions/connector", headers=ALL, json=connector_body(server, connector_type_id=".gen-ai")
    )
    assert resp.status_code == 400
    assert resp.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": 'Action type ".gen-ai" is not registered.',
    }
    body = connector_body(server, config={"provider": "nope"})
    resp = await client.post("/api/actions/connector", headers=ALL, json=body)
    assert resp.status_code == 400
    assert resp.json()["message"] == (
        "error validating connector type config: [config.provider]: "
        "API Provider is not supported: nope by Inference Endpoint."
    )


# --- get and list -------------------------------------------------------------------------------


async def test_get_and_list_return_the_connector_without_secrets(client, server) -> None:
    created = await _create(client, server)
    got = await client.get(f"/api/actions/connector/{created['id']}", headers=READ)
    assert got.status_code == 200
    assert got.json() == saved(server, created["id"])
    listed = await client.get("/api/actions/connectors", headers=READ)
    assert listed.status_code == 200
    assert listed.json() == [{**saved(server, created["id"]), "referenced_by_count": 0}]
    assert_no_secret(got)
    assert_no_secret(listed)


async def test_get_an_unknown_connector_is_a_404(client) -> None:
    resp = await client.get("/api/actions/connector/nope", headers=READ)
    assert resp.status_code == 404
    assert resp.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/nope] not found",
    }


# --- update -------------------------------------------------------------------------------------


def _update_body(server, **provider_config: Any) -> dict[str, Any]:
    return {
        "name": "Renamed",
        "config": {"providerConfig": {"url": server.url, "model_id": "fake-model", **provider_config}},
        "secrets": {"providerSecrets": {"api_key": CANARY}},
    }


async def test_update_changes_name_and_settings_and_returns_the_connector(client, server) -> None:
    created = await _create(client, server)
    resp = await client.put(
        f"/api/actions/connector/{created['id']}", headers=ALL, json=_update_body(server, model_id="m2")
    )
    assert resp.status_code == 200
    assert resp.json() == saved(server, created["id"], name="Renamed", model_id="m2")
    assert_no_secret(resp)


async def test_update_without_secrets_is_a_400_and_keeps_the_connector(client, server) -> None:
    created = await _create(client, server)
    body = _update_body(server)
    del body["secrets"]
    resp = await client.put(f"/api/actions/connector/{created['id']}", headers=ALL, json=body)
    assert resp.status_code == 400
    error = {
        "path": "secrets.providerSecrets.api_key",
        "field": "api_key",
        "label": "API Key",
        "message": "API Key is required",
    }
    assert resp.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "error validating connector type secrets: "
        "[secrets.providerSecrets.api_key]: API Key is required",
        "attributes": {"errors": [error]},
    }
    got = await client.get(f"/api/actions/connector/{created['id']}", headers=ALL)
    assert got.json() == saved(server, created["id"])


async def test_update_cannot_change_the_connector_type(client, server) -> None:
    created = await _create(client, server)
    body = {**_update_body(server), "connector_type_id": ".gen-ai"}
    resp = await client.put(f"/api/actions/connector/{created['id']}", headers=ALL, json=body)
    assert resp.status_code == 400
    assert resp.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "[request body.connector_type_id]: definition for this key is missing",
    }


async def test_update_an_unknown_connector_is_a_404(client, server) -> None:
    resp = await client.put("/api/actions/connector/nope", headers=ALL, json=_update_body(server))
    assert resp.status_code == 404
    assert resp.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/nope] not found",
    }


# --- delete -------------------------------------------------------------------------------------


async def test_delete_is_a_204_then_a_404(client, server) -> None:
    created = await _create(client, server)
    resp = await client.delete(f"/api/actions/connector/{created['id']}", headers=ALL)
    assert resp.status_code == 204
    assert resp.content == b""
    again = await client.delete(f"/api/actions/connector/{created['id']}", headers=ALL)
    assert again.status_code == 404
    assert again.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": f"Saved object [action/{created['id']}] not found",
    }
    assert (await client.get("/api/actions/connectors", headers=ALL)).json() == []


# --- execute ------------------------------------------------------------------------------------


async def test_execute_unified_completion_answers_kibanas_ok_body(client, server) -> None:
    created = await _create(client, server)
    resp = await client.post(
        f"/api/actions/connector/{created['id']}/_execute", headers=READ, json={"params": CHAT}
    )
    assert resp.status_code == 200
    body = resp.json()
    data = body["data"]
    assert body == {"status": "ok", "connector_id": created["id"], "data": data}
    assert data == {
        "id": data["id"],
        "object": "chat.completion",
        "created": data["created"],
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello world", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"completion_tokens": 2, "prompt_tokens": 3, "total_tokens": 5},
    }
    upstream = server.last
    assert upstream.headers["authorization"] == f"Bearer {CANARY}"
    assert upstream.json()["messages"] == [{"role": "user", "content": "Hello world"}]
    assert_no_secret(resp)


async def test_execute_text_embedding(client, server) -> None:
    created = await _create(client, server, task="text_embedding")
    params = {"subAction": "text_embedding", "subActionParams": {"input": "hi", "inputType": "ingest"}}
    resp = await client.post(
        f"/api/actions/connector/{created['id']}/_execute", headers=READ, json={"params": params}
    )
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ok",
        "connector_id": created["id"],
        "data": [{"embedding": [0.5, 0.25]}],
    }


async def test_execute_with_empty_params_is_a_framework_error_with_http_200(client, server) -> None:
    created = await _create(client, server)
    resp = await client.post(
        f"/api/actions/connector/{created['id']}/_execute", headers=READ, json={"params": {}}
    )
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "error",
        "connector_id": created["id"],
        "message": "error validating action params: [subAction]: expected value of type [string] "
        "but got [undefined]",
        "retry": False,
        "errorSource": "user",  # Kibana's validateAction: params are the user's
    }


async def test_execute_an_unknown_sub_action_names_it(client, server) -> None:
    created = await _create(client, server)
    resp = await client.post(
        f"/api/actions/connector/{created['id']}/_execute",
        headers=READ,
        json={"params": {"subAction": "invalidAction"}},
    )
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "error",
        "connector_id": created["id"],
        "message": "an error occurred while running the action",
        "service_message": f'Sub action "invalidAction" is not registered. Connector id: {created["id"]}. '
        "Connector name: AI Connector. Connector type: .inference",  # Kibana names the type
        "retry": True,
        "errorSource": "framework",
    }


async def test_an_upstream_refusal_is_a_connector_error_with_http_200(client, server) -> None:
    created = await _create(client, server)
    server.add("POST", "/chat", FakeResponse.json({"error": f"invalid api key {CANARY}"}, 401))
    resp = await client.post(
        f"/api/actions/connector/{created['id']}/_execute", headers=READ, json={"params": CHAT}
    )
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "error",
        "connector_id": created["id"],
        "message": "an error occurred while running the action",
        "service_message": "Inference endpoint [fake-chat_completion-1] returned status code 401: "
        '{"error": "invalid api key [REDACTED]"}',
        "retry": True,  # Kibana's action executor: every thrown error
        "errorSource": "user",
    }
    assert_no_secret(resp)


async def test_execute_an_unknown_connector_is_a_404(client) -> None:
    resp = await client.post("/api/actions/connector/nope/_execute", headers=READ, json={"params": CHAT})
    assert resp.status_code == 404
    assert resp.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/nope] not found",
    }


async def test_execute_needs_params(client, server) -> None:
    created = await _create(client, server)
    resp = await client.post(f"/api/actions/connector/{created['id']}/_execute", headers=READ, json={})
    assert resp.status_code == 400
    assert resp.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "[request body.params]: expected value of type [Object] but got [undefined]",
    }


# --- test ---------------------------------------------------------------------------------------


async def test_test_a_saved_connector_succeeds_with_kibanas_hello_world(client, server) -> None:
    created = await _create(client, server)
    resp = await client.post(f"/api/actions/connector/{created['id']}/_test", headers=READ)
    assert resp.status_code == 200
    body = resp.json()
    assert isinstance(body["latency_ms"], float)
    assert body == {
        "connector_id": created["id"],
        "status": "succeeded",
        "message": "Connector test succeeded",
        "latency_ms": body["latency_ms"],
        "failure": None,
        "status_code": None,
    }
    assert server.last.json()["messages"] == [{"role": "user", "content": "Hello world"}]


async def test_test_with_a_refused_key_fails_as_credentials(client, server) -> None:
    created = await _create(client, server)
    server.add("POST", "/chat", FakeResponse.json({"error": "invalid api key"}, 401))
    resp = await client.post(f"/api/actions/connector/{created['id']}/_test", headers=READ)
    assert resp.status_code == 200
    body = resp.json()
    assert body == {
        "connector_id": created["id"],
        "status": "failed",
        "message": 'fake returned status 401: {"error": "invalid api key"}',
        "latency_ms": body["latency_ms"],
        "failure": "credentials",
        "status_code": 401,
    }


async def test_test_an_unknown_connector_is_a_404(client) -> None:
    resp = await client.post("/api/actions/connector/nope/_test", headers=READ)
    assert resp.status_code == 404
    assert resp.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/nope] not found",
    }


async def test_test_an_unsaved_connector_saves_nothing(client, server) -> None:
    resp = await client.post("/api/actions/connector/_test", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200
    body = resp.json()
    assert body == {
        "status": "succeeded",
        "message": "Connector test succeeded",
        "latency_ms": body["latency_ms"],
        "failure": None,
        "status_code": None,
    }
    assert (await client.get("/api/actions/connectors", headers=ALL)).json() == []


async def test_save_and_test_keeps_the_last_result_beside_the_connector(api, server) -> None:
    client, service = api
    created = await _create(client, server)
    await client.post(f"/api/actions/connector/{created['id']}/_test", headers=ALL)
    details = await service.details(created["id"])
    assert details["last_test"]["status"] == "succeeded"
    # ...which the Kibana object does not carry
    got = await client.get(f"/api/actions/connector/{created['id']}", headers=ALL)
    assert got.json() == saved(server, created["id"])
