"""Export a provider in the shape of Elasticsearch's `GET _inference/_services` entry, so a
Kibana-style form (kbn-inference-endpoint-ui-common) can render it."""

from __future__ import annotations

from typing import Any

from ai_connector.types import Provider, TaskType
from ai_connector.validation import flatten_fields

__all__ = ["es_type", "service_descriptor"]

_ES_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "int",
    "boolean": "bool",
    "array": "list",
    "object": "map",
}


def es_type(field: dict[str, Any] | Any) -> str:
    """ES `SettingsConfigurationFieldType` for a JSON Schema field (str, int, bool, list, map)."""
    return _ES_TYPES.get(field.get("type", "string"), "str")


def _task_list(provider: Provider, field: Any) -> list[str]:
    declared = field.get("x-task-types")
    tasks = [t for t in TaskType if t in provider.task_types]
    if declared is not None:
        tasks = [t for t in tasks if t.value in declared]
    return [t.value for t in tasks]


def _entry(provider: Provider, field: Any, required: bool, sensitive: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "default" in field:
        out["default_value"] = field["default"]
    out["description"] = field.get("description")
    out["label"] = field.get("title", "")
    out["required"] = required
    out["sensitive"] = sensitive
    out["updatable"] = bool(field.get("x-updatable", False))
    out["type"] = es_type(field)
    out["supported_task_types"] = _task_list(provider, field)
    if out["description"] is None:
        del out["description"]  # ES omits null descriptions
    return out


def service_descriptor(provider: Provider) -> dict[str, Any]:
    """`{service, name, task_types, configurations}` with dotted keys for nested settings."""
    configurations: dict[str, Any] = {}
    for key, field, required in flatten_fields(provider.settings_schema):
        required = required or bool(field.get("x-service-required", False))
        configurations[key] = _entry(provider, field, required, False)
    for key, field, required in flatten_fields(provider.auth_schema):
        configurations[key] = _entry(provider, field, required, True)
    return {
        "service": provider.id,
        "name": provider.name,
        "task_types": [t.value for t in TaskType if t in provider.task_types],
        "configurations": dict(sorted(configurations.items())),
    }
