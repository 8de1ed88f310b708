"""Who may call the API: a missing or wrong API key is a 401, a mutating call without `kbn-xsrf`
is Kibana's 400 (and changes nothing), a Read key cannot create, update or delete (403 in Kibana's
words) but may list, get, execute and test; the OpenAPI document and the web page need no key."""

from __future__ import annotations

import stat

import httpx
import pytest
from api_helpers import ALL, ALL_KEY, READ, READ_KEY, audit_lines, auth, connector_body

from ai_connector.api import create_app
from ai_connector.api.auth import ApiKeyAuth, ensure_api_key_file, key_id

ROUTES = [
    ("GET", "/api/actions/connector_types"),
    ("GET", "/api/actions/connectors"),
    ("POST", "/api/actions/connector"),
    ("POST", "/api/actions/connector/abc"),
    ("GET", "/api/actions/connector/abc"),
    ("PUT", "/api/actions/connector/abc"),
    ("DELETE", "/api/actions/connector/abc"),
    ("POST", "/api/actions/connector/abc/_execute"),
    ("POST", "/api/actions/connector/abc/_test"),
    ("POST", "/api/actions/connector/_test"),
    ("GET", "/internal/_inference/_services"),
]


def _client_without_service(make_settings) -> httpx.AsyncClient:
    # Authentication happens before any route runs: no service is needed to be refused.
    app = create_app(settings=make_settings())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_call_without_a_key_is_401(make_settings, method: str, path: str) -> None:
    async with _client_without_service(make_settings) as client:
        resp = await client.request(method, path, headers={"kbn-xsrf": "true"}, content=b"{not json")
    assert resp.status_code == 401
    assert resp.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": f"missing authentication credentials for REST request [{path}]",
    }
    assert resp.headers["www-authenticate"] == 'ApiKey realm="ai-connector"'


@pytest.mark.parametrize(
    "header",
    [
        "ApiKey wrong-key",
        f"Bearer {ALL_KEY}",
        f"Basic {ALL_KEY}",
        "ApiKey",
        f"ApiKey {ALL_KEY}x",
    ],
)
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_wrong_key_is_401(make_settings, method: str, path: str, header: str) -> None:
    async with _client_without_service(make_settings) as client:
        resp = await client.request(method, path, headers={"Authorization": header, "kbn-xsrf": "x"})
    assert resp.status_code == 401
    assert resp.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "unable to authenticate with provided credentials",
    }


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r[0] != "GET"])
async def test_a_mutating_call_without_kbn_xsrf_is_400(make_settings, method: str, path: str) -> None:
    async with _client_without_service(make_settings) as client:
        resp = await client.request(method, path, headers=auth(ALL_KEY, xsrf=False), json={})
    assert resp.status_code == 400
    assert resp.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Request must contain a kbn-xsrf header.",
    }


async def test_without_kbn_xsrf_nothing_is_created(api, server, home) -> None:
    client, _ = api
    resp = await client.post(
        "/api/actions/connector", headers=auth(ALL_KEY, xsrf=False), json=connector_body(server)
    )
    assert resp.status_code == 400
    listed = await client.get("/api/actions/connectors", headers=ALL)
    assert listed.json() == []
    assert [e for e in audit_lines(home) if e["event"]["action"] == "connector_create"] == []


async def test_a_host_with_no_key_configured_refuses_everyone(make_settings) -> None:
    app = create_app(settings=make_settings(AI_CONNECTOR_API_KEYS=""))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        resp = await client.get("/api/actions/connectors", headers=ALL)
    assert resp.status_code == 401


async def test_the_openapi_document_and_the_web_page_need_no_key(make_settings) -> None:
    async with _client_without_service(make_settings) as client:
        doc = await client.get("/api/openapi.json")
        page = await client.get("/")
    assert doc.status_code == 200
    spec = doc.json()
    assert spec["info"]["title"] == "ai-connector"
    assert spec["components"]["securitySchemes"]["apiKeyAuth"]["name"] == "Authorization"
    for path in (
        "/api/actions/connector_types",
        "/api/actions/connector",
        "/api/actions/connector/{id}",
        "/api/actions/connectors",
        "/api/actions/connector/{id}/_execute",
        "/api/actions/connector/{id}/_test",
        "/internal/_inference/_services",
    ):
        assert path in spec["paths"], path
    assert set(spec["paths"]["/api/actions/connector/{id}"]) == {"get", "post", "put", "delete"}
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Save &amp; test" in page.text
    assert 'src="/static/page.js"' in page.text  # the script is a separate file (no inline script)


def test_keys_are_held_as_digests_and_named_by_a_fingerprint() -> None:
    keys = ApiKeyAuth({ALL_KEY: "all", READ_KEY: "read"})
    assert ALL_KEY not in repr(vars(keys))
    who = keys.authenticate(f"ApiKey {READ_KEY}", "/x")
    assert (who.id, who.privilege, who.can_write) == (key_id(READ_KEY), "read", False)
    assert READ_KEY not in who.id
    with pytest.raises(ValueError, match="'all' or 'read'"):
        ApiKeyAuth({"k": "admin"})


def test_the_generated_key_file_is_private_and_reused(tmp_path) -> None:
    key, path, created = ensure_api_key_file(tmp_path / "home")
    assert created and len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    again, path2, created2 = ensure_api_key_file(tmp_path / "home")
    assert (again, path2, created2) == (key, path, False)


# --- privileges (need the service) ------------------------------------------------------------


async def test_a_read_user_can_list_get_execute_and_test_but_not_write(api, server, home) -> None:
    client, _ = api
    created = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert created.status_code == 200, created.text
    cid = created.json()["id"]

    assert (await client.get("/api/actions/connectors", headers=READ)).status_code == 200
    assert (await client.get(f"/api/actions/connector/{cid}", headers=READ)).status_code == 200
    assert (await client.get("/api/actions/connector_types", headers=READ)).status_code == 200
    assert (await client.get("/internal/_inference/_services", headers=READ)).status_code == 200
    run = await client.post(
        f"/api/actions/connector/{cid}/_execute",
        headers=READ,
        json={
            "params": {
                "subAction": "unified_completion",
                "subActionParams": {"body": {"messages": [{"role": "user", "content": "hi"}]}},
            }
        },
    )
    assert run.status_code == 200 and run.json()["status"] == "ok", run.text
    tested = await client.post(f"/api/actions/connector/{cid}/_test", headers=READ)
    assert tested.status_code == 200 and tested.json()["status"] == "succeeded", tested.text

    for method, path, operation, body in (
        ("POST", "/api/actions/connector", "create", connector_body(server)),
        ("POST", "/api/actions/connector/mine", "create", connector_body(server)),
        ("POST", "/api/actions/connector/_test", "create", connector_body(server)),
        ("PUT", f"/api/actions/connector/{cid}", "update", {"name": "x", "config": {}, "secrets": {}}),
        ("DELETE", f"/api/actions/connector/{cid}", "delete", None),
    ):
        resp = await client.request(method, path, headers=READ, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json() == {
            "statusCode": 403,
            "error": "Forbidden",
            "message": f'Unauthorized to {operation} a ".inference" action',
        }
    still = await client.get(f"/api/actions/connector/{cid}", headers=ALL)
    assert still.json()["name"] == "My fake"
    listed = await client.get("/api/actions/connectors", headers=ALL)
    assert [c["id"] for c in listed.json()] == [cid]
