"""The few internal routes the web page needs, and what the page and the docs are served with:
who am I (never the key), the last test of each connector, an edit that keeps the stored secrets
(for `all` keys only), and `/api/docs` built from local assets."""

from __future__ import annotations

import re

from api_fakes import CANARY
from api_helpers import ALL, ALL_KEY, READ, assert_no_secret, connector_body

from ai_connector.api.auth import key_id

EDIT = "/internal/ai_connector/connector/{}"


async def test_whoami_names_the_privilege_never_the_key(open_client) -> None:
    client, _ = await open_client()
    assert (await client.get("/internal/ai_connector/_whoami")).status_code == 401
    mine = (await client.get("/internal/ai_connector/_whoami", headers=ALL)).json()
    assert mine == {"id": key_id(ALL_KEY), "privilege": "all", "can_write": True}
    theirs = (await client.get("/internal/ai_connector/_whoami", headers=READ)).json()
    assert (theirs["privilege"], theirs["can_write"]) == ("read", False)


async def test_last_tests_lists_each_connector_s_last_test(open_client, server) -> None:
    client, _ = await open_client()
    untested = (await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))).json()
    tested = (
        await client.post("/api/actions/connector", headers=ALL, json=connector_body(server, name="t"))
    ).json()
    assert (await client.post(f"/api/actions/connector/{tested['id']}/_test", headers=READ)).json()[
        "status"
    ] == "succeeded"
    last = (await client.get("/internal/ai_connector/connectors/_last_tests", headers=READ)).json()
    assert last[untested["id"]] is None
    assert last[tested["id"]]["status"] == "succeeded"
    assert re.match(r"\d{4}-\d\d-\d\dT", last[tested["id"]]["tested_at"])


async def test_an_edit_without_secrets_keeps_the_stored_ones(open_client, server) -> None:
    client, _ = await open_client()
    created = (await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))).json()
    config = {"providerConfig": {"url": server.url, "model_id": "fake-model"}}
    # Kibana's PUT needs the secrets again ...
    kibana = await client.put(
        f"/api/actions/connector/{created['id']}", headers=ALL, json={"name": "x", "config": config}
    )
    assert kibana.status_code == 400
    # ... the page's edit keeps them when it sends none
    edited = await client.put(
        EDIT.format(created["id"]), headers=ALL, json={"name": "Renamed", "config": config}
    )
    assert edited.status_code == 200, edited.text
    assert_no_secret(edited)
    assert edited.json()["name"] == "Renamed" and edited.json()["is_missing_secrets"] is False
    test = (await client.post(f"/api/actions/connector/{created['id']}/_test", headers=ALL)).json()
    assert test["status"] == "succeeded"  # the fake accepts only the stored key
    assert server.last.headers["authorization"] == f"Bearer {CANARY}"


async def test_an_edit_with_secrets_replaces_them(open_client, server) -> None:
    client, _ = await open_client()
    created = (await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))).json()
    body = {
        "name": "x",
        "config": {"providerConfig": {"url": server.url, "model_id": "fake-model"}},
        "secrets": {"providerSecrets": {"api_key": "another-key"}},
    }
    assert (await client.put(EDIT.format(created["id"]), headers=ALL, json=body)).status_code == 200
    test = (await client.post(f"/api/actions/connector/{created['id']}/_test", headers=ALL)).json()
    assert test["status"] == "failed"


async def test_a_read_key_cannot_edit_through_the_page_route(open_client, server) -> None:
    client, _ = await open_client()
    created = (await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))).json()
    refused = await client.put(EDIT.format(created["id"]), headers=READ, json={"name": "nope"})
    assert refused.status_code == 403
    assert refused.json()["message"] == 'Unauthorized to update a ".inference" action'
    no_xsrf = await client.put(
        EDIT.format(created["id"]), headers={"Authorization": f"ApiKey {ALL_KEY}"}, json={"name": "n"}
    )
    assert no_xsrf.status_code == 400


async def test_the_page_and_the_docs_load_nothing_from_elsewhere(open_client) -> None:
    client, _ = await open_client()
    for path in ("/", "/api/docs"):
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert refs and all(ref.startswith("/") for ref in refs), refs  # same origin only
        for ref in refs:
            assert (await client.get(ref)).status_code == 200, ref
    icon = await client.get("/favicon.ico")
    assert icon.headers["content-type"].startswith("image/svg+xml")
