"""Providers with no code, end to end: `ai-connector serve` lists a provider file and the `custom`
service, saves a connector of each, and its Save & test reaches a local fake server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "provider-files"
API_KEY = "e2e-api-key-5b7c91d2"
SECRET = "sk-acme-e2e-4411"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("home")
    (home / "providers").mkdir()
    (home / "providers" / "acme-rerank.toml").write_text((EXAMPLES / "acme-rerank.toml").read_text())
    port = _free_port()
    env = {**os.environ, "AI_CONNECTOR_HOME": str(home), "AI_CONNECTOR_API_KEYS": f"{API_KEY}:all"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_connector.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if (
                    httpx.get(url + "/api/actions/connector_types", headers=_auth(), timeout=5).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _auth() -> dict[str, str]:
    return {"Authorization": f"ApiKey {API_KEY}", "kbn-xsrf": "true"}


def _rerank_answer(request: RecordedRequest) -> FakeResponse:
    if request.headers.get("authorization") != f"Bearer {SECRET}":
        return FakeResponse.json({"error": {"message": "invalid api key"}}, status=401)
    documents = request.json()["documents"]
    results = [
        {"index": i, "relevance_score": 1.0 / (i + 1), "document": {"text": d}}
        for i, d in enumerate(documents)
    ]
    return FakeResponse.json({"results": results})


def _save_and_test(host: str, config: dict, secrets: dict) -> dict:
    body = {"name": "no code", "connector_type_id": ".inference", "config": config, "secrets": secrets}
    created = httpx.post(host + "/api/actions/connector", json=body, headers=_auth(), timeout=60)
    assert created.status_code == 200, created.text
    assert SECRET not in created.text
    tested = httpx.post(
        f"{host}/api/actions/connector/{created.json()['id']}/_test", headers=_auth(), timeout=60
    )
    assert tested.status_code == 200, tested.text
    return tested.json()


def test_a_provider_file_is_listed_saved_and_tested_through_serve(host: str) -> None:
    services = httpx.get(host + "/internal/_inference/_services", headers=_auth(), timeout=30).json()
    assert {"acme", "custom"} <= {s["service"] for s in services}
    with FakeServer() as server:
        server.add("POST", "/v1/rerank", _rerank_answer)
        config = {"provider": "acme", "taskType": "rerank", "providerConfig": {"url": server.url}}
        result = _save_and_test(host, config, {"providerSecrets": {"api_key": SECRET}})
        assert result["status"] == "succeeded", result
        assert server.last.json()["documents"] == ["luke", "leia"]


def test_a_custom_service_connector_is_saved_and_tested_through_serve(host: str) -> None:
    with FakeServer() as server:
        server.add("POST", "/v1/rerank", _rerank_answer)
        settings = {
            "url": server.url + "/v1/rerank",
            "headers": {"Authorization": "Bearer ${api_key}"},
            "request": '{"query": ${query}, "documents": ${input}}',
            "response": {"json_parser": {"relevance_score": "$.results[*].relevance_score"}},
        }
        config = {"provider": "custom", "taskType": "rerank", "providerConfig": settings}
        result = _save_and_test(host, config, {"providerSecrets": {"secret_parameters": {"api_key": SECRET}}})
        assert result["status"] == "succeeded", result
        wrong = _save_and_test(host, config, {"providerSecrets": {"secret_parameters": {"api_key": "nope"}}})
        assert wrong["status"] == "failed" and wrong["failure"] == "credentials"
