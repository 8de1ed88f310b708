"""Property tests through the API app: whatever a caller sends as a connector document or as
`_execute` params, the answer is a 2xx or a 4xx in Kibana's shape, never a 5xx, and never holds a
secret (the suite's canary check watches every answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from strategies import connector_documents, execute_params

from served_host import ALL_KEY, InProcessHosts, host_settings

HEADERS = {"Authorization": f"ApiKey {ALL_KEY}", "kbn-xsrf": "true"}
BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_kibana_answer(status: int, body: Any) -> None:
    assert status < 500, body
    if status >= 400:
        assert set(body) >= {"statusCode", "error", "message"} and body["statusCode"] == status


@BOUNDED
@given(document=connector_documents())
async def test_any_connector_document_is_saved_or_refused_never_a_5xx(tmp_path: Path, document: Any) -> None:
    hosts = InProcessHosts()
    api, _ = await hosts.open(host_settings(tmp_path / "home", AI_CONNECTOR_ALLOWED_HOSTS="127.0.0.1"))
    try:
        r = await api.post("/api/actions/connector", headers=HEADERS, json=document)
        event(f"create: {r.status_code}")  # outcome counts: pytest --hypothesis-show-statistics
        assert_kibana_answer(r.status_code, r.json())
        if r.status_code == 200:
            cid = r.json()["id"]
            put = {k: v for k, v in document.items() if k != "connector_type_id"}
            updated = await api.put(f"/api/actions/connector/{cid}", headers=HEADERS, json=put)
            assert_kibana_answer(updated.status_code, updated.json())
            assert (await api.delete(f"/api/actions/connector/{cid}", headers=HEADERS)).status_code == 204
    finally:
        await hosts.aclose()


@BOUNDED
@given(params=execute_params())
async def test_any_execute_params_are_answered_never_a_5xx(tmp_path: Path, params: Any) -> None:
    from connector_documents import builtin_registry, connector_document

    hosts = InProcessHosts()
    api, _ = await hosts.open(host_settings(tmp_path / "home"))
    try:
        # Aimed at a closed port: a call that gets past validation fails fast as unreachable.
        doc = connector_document(builtin_registry().get("openai"), url="http://127.0.0.1:9/v1")
        cid = (await api.post("/api/actions/connector", headers=HEADERS, json=doc)).json()["id"]
        r = await api.post(f"/api/actions/connector/{cid}/_execute", headers=HEADERS, json={"params": params})
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
        event(f"execute: {r.status_code} {body.get('status') if isinstance(body, dict) else 'stream'}")
        assert_kibana_answer(r.status_code, body)
    finally:
        await hosts.aclose()
