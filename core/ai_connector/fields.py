"""Schema fields many providers share, with Elasticsearch's labels and flags (`DefaultSecretSettings`,
`RateLimitSettings`, the `model_id` and `url` every hosted service declares), and the object schema
that holds them. Flags map to the meta-schema's keywords: sensitive -> `x-sensitive`, updatable ->
`x-updatable`, supported task types -> `x-task-types`; required is the object's `required` list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ai_connector.errors import ConfigValidationError, FieldError

if TYPE_CHECKING:
    from ai_connector.types import InferenceEndpoint, TaskType

__all__ = [
    "DEFAULT_API_KEY_DESCRIPTION",
    "DEFAULT_RATE_LIMIT_DESCRIPTION",
    "api_key",
    "field",
    "invalid",
    "model_id",
    "rate_limit",
    "require",
    "schema",
    "url",
]

# ES DefaultSecretSettings.configuration and RateLimitSettings.toSettingsConfigurationWithDescription.
DEFAULT_API_KEY_DESCRIPTION = "API Key for the provider you're connecting to."
DEFAULT_RATE_LIMIT_DESCRIPTION = "Minimize the number of rate limit errors."


def field(kind: str, title: str, description: str | None = None, /, **extra: Any) -> dict[str, Any]:
    """Any other field: its JSON type (`string`, `integer`, ...), label, description and keywords
    (`None` values are left out; pass `**{"x-updatable": True}` for the x- flags). The first three
    are positional only, so a type checker never reads such a `**{...}` as the description."""
    out: dict[str, Any] = {"type": kind, "title": title}
    if description:
        out["description"] = description
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def _task_types(task_types: Iterable[TaskType | str] | None) -> list[str] | None:
    return None if task_types is None else [str(getattr(t, "value", t)) for t in task_types]


def api_key(description: str = DEFAULT_API_KEY_DESCRIPTION) -> dict[str, Any]:
    """ES's `api_key` secret: label "API Key", sensitive, updatable (list it in `required` unless
    the service accepts calls without a key)."""
    return field("string", "API Key", description, **{"x-sensitive": True, "x-updatable": True})


def url(
    description: str = "The absolute URL of the external service to send requests to.",
    *,
    default: str | None = None,
    title: str = "URL",
) -> dict[str, Any]:
    """ES's `url` setting: label "URL", not updatable, an absolute URL (checked against the host's
    allowedHosts at save)."""
    return field("string", title, description, format="uri", default=default, **{"x-updatable": False})


def model_id(
    description: str = "The name of the model to use for the inference task.",
    *,
    title: str = "Model ID",
    default: str | None = None,
    task_types: Iterable[TaskType | str] | None = None,
) -> dict[str, Any]:
    """ES's `model_id` setting: label "Model ID", not updatable."""
    return field(
        "string",
        title,
        description,
        default=default,
        **{"x-updatable": False, "x-task-types": _task_types(task_types)},
    )


def rate_limit(description: str = DEFAULT_RATE_LIMIT_DESCRIPTION) -> dict[str, Any]:
    """ES's `rate_limit.requests_per_minute` setting (label "Rate Limit", optional, not updatable),
    as the nested group the core flattens to the dotted key."""
    return {
        "type": "object",
        "title": "Rate Limit",
        "properties": {
            "requests_per_minute": {
                "type": "integer",
                "title": "Rate Limit",
                "description": description,
                "minimum": 1,
                "x-updatable": False,
            }
        },
        "additionalProperties": False,
    }


def schema(properties: Mapping[str, Mapping[str, Any]], *, required: Iterable[str] = ()) -> dict[str, Any]:
    """A provider's settings or auth schema: these fields, `required` ones listed, nothing else allowed."""
    schema: dict[str, Any] = {"type": "object", "properties": {k: dict(v) for k, v in properties.items()}}
    if required := list(required):
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def require(endpoint: InferenceEndpoint, key: str, label: str, *, secret: bool = False) -> str:
    """The connector's setting (or, with `secret`, its secret) `key`; a ConfigValidationError naming
    the field when it is missing, raised before any request."""
    value = (endpoint.secrets if secret else endpoint.settings).get(key)
    if value in (None, ""):
        raise invalid(key, label, f"{label} is required", secret=secret)
    return str(value)


def invalid(
    key: str, label: str, message: str, *, secret: bool = False, path: str | None = None
) -> Exception:
    """The ConfigValidationError for a connector's setting (or secret) `key` the provider refuses
    before any request; `path` overrides the field's JSON path (e.g. a rule across two secrets)."""
    if path is None:
        path = f"{'secrets.providerSecrets' if secret else 'config.providerConfig'}.{key}"
    return ConfigValidationError([FieldError(path, key, label, message)])
