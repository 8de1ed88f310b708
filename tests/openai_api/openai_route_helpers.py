"""What the OpenAI route tests share: the keys and texts, OpenAI's schemas (vendored subset) as a
check, and a running `ai-connector serve` (a subprocess on a free port of 127.0.0.1)."""

from __future__ import annotations

import importlib
import json
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from ai_connector.testing import FakeServer

CHAT_PROVIDERS = ["openai", "anthropic", "amazonbedrock", "googlevertexai", "elastic"]
PIECES = ["Hello", ", wor", "ld", "! \u00e9 \U0001f600"]
ALL_KEY = "openai-route-all-key-0001"
READ_KEY = "openai-route-read-key-0002"
ENCRYPTION_KEY = "openai-route-encryption-key-0123456789abcdef"
CANARY = "canary-secret-openai-route-9d2c"  # every connector's secret: no answer or log may hold it
SUBSET = Path(__file__).parent / "data" / "openai-openapi-subset.json"


# ---------------------------------------------------------------------------------------------
# OpenAI's schemas


def _as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 -> JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [_as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _as_json_schema(v) for k, v in node.items() if k not in ("nullable", "deprecated")}
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


_DOC = _as_json_schema(json.loads(SUBSET.read_text(encoding="utf-8")))


def check_schema(name: str, instance: Any) -> None:
    """Assert `instance` is valid against OpenAI's component schema `name`."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": _DOC["components"]}
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(instance)
    ]
    assert errors == [], f"not a valid {name}: {errors}"


# ---------------------------------------------------------------------------------------------
# `ai-connector serve`


@dataclass
class Serve:
    """A running `ai-connector serve` process."""

    url: str
    home: Path
    process: subprocess.Popen[bytes]
    prefix: str = "/v1"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as `base_url`."""
        return self.url + self.prefix

    def kibana(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A Kibana API call with the `all` key."""
        headers = {"authorization": f"ApiKey {ALL_KEY}", "kbn-xsrf": "true"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def audit_lines(self) -> list[dict[str, Any]]:
        path = self.home / "audit.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _connector(provider_id: str, task: str, fake: FakeServer) -> dict[str, Any]:
    testing = importlib.import_module(f"ai_connector_{provider_id}.testing")
    settings, secrets = testing.connector(
        fake.url, "chat_completion" if task == "completion" else task, secret=CANARY
    )
    return {
        "name": f"{provider_id} {task}",
        "connector_type_id": ".inference",
        "config": {
            "provider": provider_id,
            "taskType": task,
            "inferenceId": f"{provider_id}-{task}-endpoint",
            "providerConfig": settings,
        },
        "secrets": {"providerSecrets": secrets},
    }


def create_connectors(serve: Serve, fake: FakeServer) -> None:
    """Connector `chat-<provider>` for each chat provider, `embed-openai`, `embed-amazonbedrock`
    and `complete-openai`, each with inferenceId `<provider>-<task>-endpoint`, and
    `chat-small-window` (OpenAI, a 20-token context window)."""
    wanted = [(f"chat-{p}", p, "chat_completion") for p in CHAT_PROVIDERS]
    wanted += [
        ("embed-openai", "openai", "text_embedding"),
        ("embed-amazonbedrock", "amazonbedrock", "text_embedding"),
        ("complete-openai", "openai", "completion"),
    ]
    for cid, provider_id, task in wanted:
        response = serve.kibana(
            "POST", f"/api/actions/connector/{cid}", json=_connector(provider_id, task, fake)
        )
        assert response.status_code == 200, response.text
    small = _connector("openai", "chat_completion", fake)
    small["config"].update(inferenceId="small-window", contextWindowLength=20)
    response = serve.kibana("POST", "/api/actions/connector/chat-small-window", json=small)
    assert response.status_code == 200, response.text
