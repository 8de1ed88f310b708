"""Connector documents for every built-in provider, built from its own schemas, so a table can
run one case across all of them; and hypothesis strategies for documents, settings and params."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ai_connector.manager import ProviderRegistry, load_registry
from ai_connector.types import Provider, thaw
from canaries import canary_secret

_REGISTRY: ProviderRegistry | None = None


def builtin_registry() -> ProviderRegistry:
    """The built-in providers, loaded once (entry points, as `serve` loads them)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return _REGISTRY


def _value(name: str, schema: Mapping[str, Any], secret: bool) -> Any:
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _value(k, props.get(k, {}), secret) for k in _required(schema)}
    if schema.get("x-format") == "json":
        return json.dumps({"type": "service_account", "private_key": canary_secret(name)})
    return canary_secret(name) if secret else name.replace("_", "") + "1"


def _required(schema: Mapping[str, Any]) -> list[str]:
    names = list(schema.get("required", ()))
    for alternative in ("oneOf", "anyOf"):
        options = schema.get(alternative) or ()
        if options and not names:
            names = list(options[0].get("required", ()))
    return names


def settings_for(provider: Provider, *, secret: bool = False) -> dict[str, Any]:
    """Values for the provider's required settings (or secrets) and nothing else."""
    schema = thaw(provider.auth_schema if secret else provider.settings_schema)
    props = schema.get("properties", {})
    return {name: _value(name, props.get(name, {}), secret) for name in _required(schema)}


def task_of(provider: Provider) -> str:
    """The task a table runs: chat when the provider chats, else its first task type."""
    tasks = sorted(t.value for t in provider.task_types)
    return "chat_completion" if "chat_completion" in tasks else tasks[0]


def run_params(task: str) -> dict[str, Any]:
    """`_execute` params for one small call of `task`."""
    if task == "chat_completion":
        body = {"messages": [{"role": "user", "content": "Hello world"}]}
        return {"subAction": "unified_completion", "subActionParams": {"body": body}}
    if task == "completion":
        return {"subAction": "completion", "subActionParams": {"input": "Hello world"}}
    if task == "rerank":
        return {"subAction": "rerank", "subActionParams": {"input": ["a"], "query": "q"}}
    return {"subAction": task, "subActionParams": {"input": "Hello world"}}


def connector_document(provider: Provider, *, url: str | None = None, name: str = "table") -> dict[str, Any]:
    """A Kibana create body for `provider`'s first task type, aimed at `url` when given."""
    config = settings_for(provider)
    if "model_id" in thaw(provider.settings_schema).get("properties", {}):
        config.setdefault("model_id", "modelid1")  # optional in the schema, required by some APIs
    if url is not None:
        config["url"] = url
    secrets = settings_for(provider, secret=True)
    if not secrets and "api_key" in thaw(provider.auth_schema).get("properties", {}):
        secrets = {"api_key": canary_secret(provider.id)}
    return {
        "name": name,
        "connector_type_id": ".inference",
        "config": {
            "provider": provider.id,
            "taskType": task_of(provider),
            "providerConfig": config,
        },
        "secrets": {"providerSecrets": secrets},
    }
