"""Kibana's connector routes, asserted as Kibana asserts them: request bodies it accepts or refuses,
its texts, and the fields of its responses. Each test names the Kibana file its facts come from
(elastic/kibana, x-pack/platform/... unless the path says otherwise)."""

from __future__ import annotations

from typing import Any

import httpx
from api_fakes import CANARY
from api_helpers import ALL, ALL_KEY, auth, connector_body

from ai_connector.testing import FakeServer

CONNECTOR_FIELDS = {
    "id",
    "name",
    "config",
    "connector_type_id",
    "is_preconfigured",
    "is_deprecated",
    "is_missing_secrets",
    "is_system_action",
    "is_connector_type_deprecated",
    "auth_mode",
}


async def _create(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] = ALL
) -> httpx.Response:
    return await client.post("/api/actions/connector", json=body, headers=headers)


# -- plugins/shared/actions/common/routes/connector/apis/create/schemas/v1.ts (name, config and
# -- secrets use common/validate_empty_strings.ts: "value '' is not valid" for a blank string)


async def test_a_whitespace_only_name_is_refused(client: httpx.AsyncClient, server: FakeServer) -> None:
    response = await _create(client, connector_body(server, name="   "))
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "[request body.name]: value '' is not valid",
    }


async def test_a_blank_string_inside_config_is_refused(client: httpx.AsyncClient, server: FakeServer) -> None:
    # platform/test/alerting_api_integration/spaces_only/tests/actions/create.ts ("when empty
    # strings are submitted"): the whole body
    body = connector_body(server, config={"inferenceId": " "})
    response = await _create(client, body)
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "[request body.config.inferenceId]: value '' is not valid",
    }


async def test_an_unknown_connector_type_is_not_registered(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    # plugins/shared/actions/server/action_type_registry.ts (ensureActionTypeEnabled / get)
    response = await _create(client, connector_body(server, connector_type_id=".gen-ai"))
    assert response.status_code == 400
    assert response.json()["message"] == 'Action type ".gen-ai" is not registered.'


async def test_an_update_with_a_whitespace_only_name_is_refused(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    created = (await _create(client, connector_body(server))).json()
    body = connector_body(server)
    update = {"name": "\t", "config": body["config"], "secrets": body["secrets"]}
    response = await client.put(f"/api/actions/connector/{created['id']}", json=update, headers=ALL)
    assert response.status_code == 400
    assert response.json()["message"] == "[request body.name]: value '' is not valid"


# -- src/core/packages/http/server-internal/src/lifecycle_handlers.ts (the XSRF handler lets a
# -- mutating request through with either `kbn-xsrf` or `kbn-version`)


async def test_kbn_version_is_accepted_in_place_of_kbn_xsrf(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    headers = {**auth(ALL_KEY, xsrf=False), "kbn-version": "9.2.0"}
    response = await _create(client, connector_body(server), headers)
    assert response.status_code == 200, response.text


async def test_without_either_header_a_mutating_call_is_refused(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    response = await _create(client, connector_body(server), auth(ALL_KEY, xsrf=False))
    assert response.status_code == 400
    assert response.json()["message"] == "Request must contain a kbn-xsrf header."


# -- src/platform/packages/shared/kbn-connector-schemas/inference/schemas/v1.ts (ConfigSchema:
# -- contextWindowLength and temperature are `z.coerce.number()`)


async def test_number_strings_are_coerced_for_context_window_and_temperature(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    body = connector_body(server, config={"contextWindowLength": "8192", "temperature": "0.5"})
    response = await _create(client, body)
    assert response.status_code == 200, response.text
    config = response.json()["config"]
    assert config["contextWindowLength"] == 8192 and config["temperature"] == 0.5


# -- plugins/shared/actions/server/routes/connector/common_transforms/transform_connector_response/v1.ts
# -- and common/routes/connector/response/schemas/v1.ts (the connector response's fields)


async def test_create_and_get_answer_kibanas_v1_connector_fields_and_no_secret(
    client: httpx.AsyncClient, server: FakeServer
) -> None:
    created = await _create(client, connector_body(server))
    assert created.status_code == 200
    assert set(created.json()) == CONNECTOR_FIELDS
    assert created.json()["auth_mode"] == "shared"
    got = await client.get(f"/api/actions/connector/{created.json()['id']}", headers=ALL)
    assert set(got.json()) == CONNECTOR_FIELDS and CANARY not in got.text


async def test_connector_types_carry_the_source_field(client: httpx.AsyncClient) -> None:
    [entry] = (await client.get("/api/actions/connector_types", headers=ALL)).json()
    assert entry["id"] == ".inference" and entry["source"] == "stack"
    assert entry["is_deprecated"] is False and entry["minimum_license_required"] == "enterprise"


# -- plugins/shared/actions/server/lib/validate_with_schema.ts ("error validating connector type
# -- config|secrets: ..." for a body the connector type's schemas refuse)


async def test_config_errors_carry_kibanas_prefix(client: httpx.AsyncClient, server: FakeServer) -> None:
    body = connector_body(server)
    del body["config"]["providerConfig"]["model_id"]
    response = await _create(client, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("error validating connector type config: ")


async def test_secrets_errors_carry_kibanas_prefix(client: httpx.AsyncClient, server: FakeServer) -> None:
    body = connector_body(server)
    body["secrets"] = {"providerSecrets": {}}
    response = await _create(client, body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("error validating connector type secrets: ")
