"""The host's rules seen through the API: license levels (the `.inference` type needs enterprise or
trial), `enabled_connector_types`, `allowed_hosts` at save and on a redirect during a run,
preconfigured connectors (readable and runnable, never changed through the API), and the audit
lines each operation writes (the caller named by its key's fingerprint, never a key or secret)."""

from __future__ import annotations

import pytest
from api_fakes import CANARY
from api_helpers import ALL, ALL_KEY, READ, READ_KEY, assert_no_secret, audit_lines, connector_body

from ai_connector.api.auth import key_id
from ai_connector.testing import FakeResponse

CHAT = {"subAction": "unified_completion", "subActionParams": {"body": {"messages": [
    {"role": "user", "content": "Hello world"}]}}}  # fmt: skip


def _forbidden(message: str) -> dict:
    return {"statusCode": 403, "error": "Forbidden", "message": message}


# --- license ------------------------------------------------------------------------------------


@pytest.mark.parametrize("license", ["basic", "gold", "platinum"])
async def test_a_license_below_enterprise_shows_the_gate(open_client, server, license: str) -> None:
    # a connector saved while the host ran on trial...
    client, service = await open_client()
    created = await client.post("/api/actions/connector/saved", headers=ALL, json=connector_body(server))
    assert created.status_code == 200
    await service.aclose()
    # ...then the host restarts on a lower license
    client, _ = await open_client(AI_CONNECTOR_LICENSE=license)
    types = await client.get("/api/actions/connector_types", headers=READ)
    assert types.status_code == 200
    entry = types.json()[0]
    assert (entry["enabled"], entry["enabled_in_config"], entry["enabled_in_license"]) == (False, True, False)
    gate = _forbidden(
        f"Action type .inference is disabled because your {license} license does not support it. "
        "Please upgrade your license."
    )
    for method, path, body in (
        ("POST", "/api/actions/connector", connector_body(server)),
        ("POST", "/api/actions/connector/_test", connector_body(server)),
        ("PUT", "/api/actions/connector/saved", {"name": "x", "config": {}, "secrets": {}}),
        ("POST", "/api/actions/connector/saved/_execute", {"params": CHAT}),
        ("POST", "/api/actions/connector/saved/_test", None),
    ):
        resp = await client.request(method, path, headers=ALL, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json() == gate, (method, path)
    # reading is not gated: the connector is still there to be seen (and deleted)
    assert (await client.get("/api/actions/connector/saved", headers=READ)).status_code == 200


@pytest.mark.parametrize("license", ["enterprise", "trial"])
async def test_enterprise_and_trial_allow_the_ai_connector(open_client, server, license: str) -> None:
    client, _ = await open_client(AI_CONNECTOR_LICENSE=license)
    types = await client.get("/api/actions/connector_types", headers=READ)
    assert types.json()[0]["enabled_in_license"] is True
    created = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert created.status_code == 200
    run = await client.post(
        f"/api/actions/connector/{created.json()['id']}/_execute", headers=READ, json={"params": CHAT}
    )
    assert run.json()["status"] == "ok"


async def test_a_type_missing_from_enabled_connector_types_is_a_403(open_client, server) -> None:
    client, _ = await open_client(AI_CONNECTOR_ENABLED_CONNECTOR_TYPES=".gen-ai")
    types = await client.get("/api/actions/connector_types", headers=READ)
    entry = types.json()[0]
    assert (entry["enabled"], entry["enabled_in_config"], entry["enabled_in_license"]) == (False, False, True)
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 403
    assert resp.json() == _forbidden(
        'action type ".inference" (service "fake") is not enabled in the ai-connector config '
        "enabled_connector_types"
    )


# --- allowed hosts ------------------------------------------------------------------------------


async def test_a_refused_host_is_a_400_at_save(open_client, server) -> None:
    client, _ = await open_client(AI_CONNECTOR_ALLOWED_HOSTS="api.example.com")
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "Bad Request"
    assert f'target url "{server.url}" is not added to the allowed_hosts of this host' in body["message"]
    assert server.requests == []
    assert (await client.get("/api/actions/connectors", headers=ALL)).json() == []


async def test_an_allowed_host_saves_and_runs(open_client, server) -> None:
    client, _ = await open_client(AI_CONNECTOR_ALLOWED_HOSTS="127.0.0.1")
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200
    run = await client.post(
        f"/api/actions/connector/{resp.json()['id']}/_execute", headers=READ, json={"params": CHAT}
    )
    assert run.json()["status"] == "ok"


async def test_a_redirect_to_a_refused_host_during_a_run_is_not_followed(open_client, server) -> None:
    client, _ = await open_client(AI_CONNECTOR_ALLOWED_HOSTS="127.0.0.1")
    created = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    cid = created.json()["id"]
    port = server.url.rsplit(":", 1)[1]
    target = f"http://localhost:{port}/chat"  # the same server, under a name the host refuses
    server.add("POST", "/chat", FakeResponse(status=307, headers={"location": target}))
    server.reset()
    resp = await client.post(f"/api/actions/connector/{cid}/_execute", headers=READ, json={"params": CHAT})
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "error",
        "connector_id": cid,
        "message": "an error occurred while running the action",
        "service_message": f'target url "{target}" is not added to the allowed_hosts of this host',
        "retry": True,  # Kibana's action executor: every thrown error
        "errorSource": "user",
    }
    assert [r.path for r in server.requests] == ["/chat"]  # the redirect hop never left the host


# --- preconfigured ------------------------------------------------------------------------------


def _write_preconfigured(home, server, *, expose: bool) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "ai-connector.toml").write_text(
        f"""
[preconfigured.shared]
name = "Shared fake"
provider = "fake"
taskType = "chat_completion"
providerConfig = {{ url = "{server.url}", model_id = "fake-model" }}
providerSecrets = {{ api_key = "{CANARY}" }}
exposeConfig = {"true" if expose else "false"}
"""
    )
    (home / "ai-connector.toml").chmod(0o600)


PRECONFIGURED = {
    "id": "shared",
    "name": "Shared fake",
    "connector_type_id": ".inference",
    "is_preconfigured": True,
    "is_deprecated": False,
    "is_system_action": False,
    "is_connector_type_deprecated": False,
    "auth_mode": "shared",
}


async def test_a_preconfigured_connector_is_listed_without_config_and_runs(open_client, server, home) -> None:
    _write_preconfigured(home, server, expose=False)
    client, _ = await open_client()
    listed = await client.get("/api/actions/connectors", headers=READ)
    assert listed.json() == [{**PRECONFIGURED, "referenced_by_count": 0}]
    got = await client.get("/api/actions/connector/shared", headers=READ)
    assert got.json() == PRECONFIGURED
    run = await client.post("/api/actions/connector/shared/_execute", headers=READ, json={"params": CHAT})
    assert run.json()["status"] == "ok"
    tested = await client.post("/api/actions/connector/shared/_test", headers=READ)
    assert tested.json()["status"] == "succeeded"
    for resp in (listed, got, run, tested):
        assert_no_secret(resp)


async def test_a_preconfigured_connector_shows_config_when_exposed(open_client, server, home) -> None:
    _write_preconfigured(home, server, expose=True)
    client, _ = await open_client()
    got = await client.get("/api/actions/connector/shared", headers=READ)
    body = got.json()
    assert body == {**PRECONFIGURED, "config": body["config"]}
    assert body["config"]["providerConfig"] == {"model_id": "fake-model", "url": server.url}
    assert_no_secret(got)


async def test_a_preconfigured_connector_cannot_be_replaced_updated_or_deleted(
    open_client, server, home
) -> None:
    _write_preconfigured(home, server, expose=False)
    client, _ = await open_client()
    create = await client.post("/api/actions/connector/shared", headers=ALL, json=connector_body(server))
    assert create.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "This shared already exists in a preconfigured action.",
    }
    update = await client.put(
        "/api/actions/connector/shared",
        headers=ALL,
        json={"name": "x", "config": {}, "secrets": {"providerSecrets": {"api_key": "x"}}},
    )
    assert update.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Preconfigured action shared can not be updated.",
    }
    delete = await client.delete("/api/actions/connector/shared", headers=ALL)
    assert delete.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Preconfigured action shared is not allowed to delete.",
    }
    assert (await client.get("/api/actions/connector/shared", headers=READ)).json() == PRECONFIGURED


# --- audit --------------------------------------------------------------------------------------


def _summary(events: list[dict]) -> list[tuple]:
    return [
        (e["event"]["action"], e["event"]["outcome"], e.get("connector", {}).get("id"), e["user"]["name"])
        for e in events
    ]


async def test_every_operation_is_audited_with_the_callers_key_id(client, server, home) -> None:
    writer, reader = key_id(ALL_KEY), key_id(READ_KEY)
    created = await client.post("/api/actions/connector/a1", headers=ALL, json=connector_body(server))
    assert created.status_code == 200
    await client.post("/api/actions/connector/a1/_execute", headers=READ, json={"params": CHAT})
    await client.post("/api/actions/connector/a1/_test", headers=READ)
    await client.put(
        "/api/actions/connector/a1",
        headers=ALL,
        json={
            "name": "b",
            "config": connector_body(server)["config"],
            "secrets": connector_body(server)["secrets"],
        },
    )
    await client.delete("/api/actions/connector/a1", headers=ALL)
    assert _summary(audit_lines(home)) == [
        ("connector_create", "unknown", "a1", writer),
        ("connector_create", "success", "a1", writer),
        ("connector_execute", "success", "a1", reader),
        ("connector_test", "success", "a1", reader),
        ("connector_update", "unknown", "a1", writer),
        ("connector_update", "success", "a1", writer),
        ("connector_delete", "unknown", "a1", writer),
        ("connector_delete", "success", "a1", writer),
    ]
    text = (home / "audit.log").read_text()
    assert CANARY not in text
    assert ALL_KEY not in text and READ_KEY not in text
    assert "fake-model" not in text  # no config values either


async def test_a_denied_write_is_audited_as_a_failure_before_the_403(client, server, home) -> None:
    resp = await client.post("/api/actions/connector/x1", headers=READ, json=connector_body(server))
    assert resp.status_code == 403
    resp = await client.delete("/api/actions/connector/x1", headers=READ)
    assert resp.status_code == 403
    events = audit_lines(home)
    assert _summary(events) == [
        ("connector_create", "failure", "x1", key_id(READ_KEY)),
        ("connector_delete", "failure", "x1", key_id(READ_KEY)),
    ]
    assert events[0]["error"] == {
        "code": "ForbiddenError",
        "message": 'Unauthorized to create a ".inference" action',
    }
    assert events[0]["message"] == "Failed attempt to create connector [id=x1]"
