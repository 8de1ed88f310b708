"""Providers declared in data files (TOML), with no code: dropped into `<home>/providers/*.toml`, or
shipped by a distribution through the `ai_connector.providers` entry-point group as
`acme = "ai_connector_acme:provider.toml"` (a package holding the file).

A file is either `kind = "openai"` (an OpenAI-compatible service, built with `openai_compatible`) or
`kind = "custom"` (Elasticsearch's custom-service templates, one table per task type, whose
`${placeholders}` are the file's declared settings and secrets). Each file loads as a plugin of its
own: a malformed one is reported (`ai-connector plugins`: the file and the reason) and skipped.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Callable, Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from ai_connector import fields
from ai_connector.custom_service import CUSTOM_TASK_TYPES, PARSER_KEYS, CustomCalls, query_pairs
from ai_connector.hookspecs import hookimpl
from ai_connector.openai_service import OpenAICompatible
from ai_connector.templates import leftover_placeholder
from ai_connector.types import InferenceEndpoint, Provider, TaskType

__all__ = [
    "ProviderFileError",
    "ProviderFilePlugin",
    "home_provider_plugins",
    "load_entry_point",
    "parse_provider",
]

HOME_ENV = "AI_CONNECTOR_HOME"
_TOP = {"id", "name", "kind", "description", "docs_url", "task_types", "default_requests_per_minute"}
_OPENAI = {"base_url", "api_key", "headers", "max_tokens_field", "list_models_test", "whole_chat"}
_CUSTOM = {"settings", "secrets", "templates"}
_FIELD_KEYS = {"title", "description", "type", "required", "default", "updatable"}
_TEMPLATE_KEYS = {"url", "headers", "query_parameters", "request", "response", "input_type"}
_BODY_PLACEHOLDERS = {"input", "query", "input_type", "top_n", "return_documents"}
_TYPES = {"string", "integer", "number", "boolean"}


class ProviderFileError(ValueError):
    """A provider file that cannot become a provider; the message names the file and the reason."""


def _need(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise ProviderFileError(f"{where}{key} is missing")
    value = table[key]
    if not isinstance(value, kind):
        raise ProviderFileError(f"{where}{key} must be a {getattr(kind, '__name__', 'value')}")
    return value


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ProviderFileError(f"{where}unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")


def _task_types(data: Mapping[str, Any], allowed: frozenset[TaskType] | None) -> frozenset[TaskType]:
    raw = data.get("task_types")
    if raw is None and allowed is None:
        return frozenset({TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING})
    if not isinstance(raw, list) or not raw:
        raise ProviderFileError("task_types must be a non-empty list")
    try:
        tasks = frozenset(TaskType(t) for t in raw)
    except ValueError as exc:
        raise ProviderFileError(f"task_types: {exc}") from None
    if allowed is not None and not tasks <= allowed:
        extra = ", ".join(sorted(t.value for t in tasks - allowed))
        raise ProviderFileError(f"task_types: the custom kind does not serve {extra}")
    return tasks


def _rpm(data: Mapping[str, Any]) -> dict[TaskType, int]:
    raw = data.get("default_requests_per_minute") or {}
    try:
        return {TaskType(k): int(v) for k, v in raw.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProviderFileError(f"default_requests_per_minute: {exc}") from None


def _openai(data: Mapping[str, Any]) -> Provider:
    _only(data, _TOP | _OPENAI, "")
    api_key = data.get("api_key", "required")
    if api_key not in ("required", "optional", "none"):
        raise ProviderFileError('api_key must be "required", "optional" or "none"')
    headers = data.get("headers") or {}
    if not all(isinstance(v, str) for v in headers.values()):
        raise ProviderFileError("headers: every value must be a string")
    return OpenAICompatible(
        id=data["id"],
        name=data["name"],
        base_url=data.get("base_url"),
        api_key=api_key,
        task_types=_task_types(data, None),
        headers=headers,
        max_tokens_field=data.get("max_tokens_field", "max_tokens"),
        list_models_test=bool(data.get("list_models_test", False)),
        whole_chat=bool(data.get("whole_chat", True)),
        description=data.get("description", ""),
        docs_url=data.get("docs_url"),
        default_requests_per_minute=_rpm(data),
    ).provider()


def _declared_fields(table: Any, where: str, *, secret: bool) -> tuple[dict[str, Any], list[str]]:
    if table is None:
        return {}, []
    if not isinstance(table, Mapping):
        raise ProviderFileError(f"{where} must be a table of fields")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, spec in table.items():
        at = f"{where}.{key}: "
        if not isinstance(spec, Mapping):
            raise ProviderFileError(f"{at}must be a table (title, description, type, required, default)")
        _only(spec, _FIELD_KEYS, at)
        kind = spec.get("type", "string")
        if kind not in _TYPES:
            raise ProviderFileError(f"{at}type must be one of {', '.join(sorted(_TYPES))}")
        extra: dict[str, Any] = {
            "default": spec.get("default"),
            "x-updatable": bool(spec.get("updatable", secret)),
        }
        if secret:
            extra["x-sensitive"] = True
        properties[key] = fields.field(kind, _need(spec, "title", str, at), spec.get("description"), **extra)
        if spec.get("required"):
            required.append(key)
    return properties, required


def _custom(data: Mapping[str, Any]) -> Provider:
    _only(data, _TOP | _CUSTOM, "")
    tasks = _task_types(data, CUSTOM_TASK_TYPES)
    settings, required = _declared_fields(data.get("settings"), "settings", secret=False)
    secrets, required_secrets = _declared_fields(data.get("secrets"), "secrets", secret=True)
    defined = set(settings) | set(secrets)
    templates = data.get("templates")
    if not isinstance(templates, Mapping):
        raise ProviderFileError("templates is missing: one [templates.<task type>] table per task type")
    shared = {k: v for k, v in templates.items() if k in _TEMPLATE_KEYS}
    _only(templates, _TEMPLATE_KEYS | {t.value for t in tasks}, "templates: ")
    specs: dict[TaskType, dict[str, Any]] = {}
    for task in tasks:
        own = templates.get(task.value)
        if not isinstance(own, Mapping):
            raise ProviderFileError(f"templates.{task.value} is missing")
        spec = {**shared, **own}
        where = f"templates.{task.value}."
        _only(spec, _TEMPLATE_KEYS, where)
        for key in ("url", "request"):
            _need(spec, key, str, where)
        paths = ((spec.get("response") or {}).get("json_parser")) or {}
        for key in PARSER_KEYS[task]:
            _need(paths, key, str, f"{where}response.json_parser.")
        _check_placeholders(spec, defined, where)
        specs[task] = spec
    settings["rate_limit"] = fields.rate_limit()
    calls = CustomCalls(spec=lambda ep: specs[ep.task_type], values=_file_values)
    return Provider(
        id=data["id"],
        name=data["name"],
        task_types=tasks,
        settings_schema=fields.schema(settings, required=required),
        auth_schema=fields.schema(secrets, required=required_secrets),
        urls=calls.urls,
        default_requests_per_minute=_rpm(data),
        description=data.get("description", ""),
        docs_url=data.get("docs_url"),
        completion=calls.completion if TaskType.COMPLETION in tasks else None,
        text_embedding=calls.text_embedding if TaskType.TEXT_EMBEDDING in tasks else None,
        sparse_embedding=calls.sparse_embedding if TaskType.SPARSE_EMBEDDING in tasks else None,
        rerank=calls.rerank if TaskType.RERANK in tasks else None,
    )


def _check_placeholders(spec: Mapping[str, Any], defined: set[str], where: str) -> None:
    """Every `${name}` in the templates is a declared field (or, in the body, a request value)."""
    texts: list[tuple[str, str, set[str]]] = [("url", str(spec["url"]), defined)]
    texts += [(f"headers.{k}", str(v), defined) for k, v in (spec.get("headers") or {}).items()]
    texts += [(f"query_parameters.{k}", v, defined) for k, v in query_pairs(spec)]
    texts.append(("request", str(spec["request"]), defined | _BODY_PLACEHOLDERS))
    for name, text, known in texts:
        rest = text
        while (left := leftover_placeholder(rest)) is not None:
            if left not in known:
                raise ProviderFileError(f"{where}{name}: ${{{left}}} is not a declared setting or secret")
            rest = rest.replace(f"${{{left}}}", "")


def _file_values(endpoint: InferenceEndpoint) -> dict[str, Any]:
    """A file provider's placeholders: its settings, its secrets, then the task's `parameters`."""
    values: dict[str, Any] = {k: v for k, v in endpoint.settings.items() if not isinstance(v, Mapping)}
    values.update(endpoint.secrets)
    values.update(endpoint.task_settings.get("parameters") or {})
    return values


def parse_provider(text: str, source: str) -> Provider:
    """The Provider a provider file declares; ProviderFileError "<source>: <reason>" when it cannot."""
    try:
        data = tomllib.loads(text)
        _need(data, "id", str, "")
        _need(data, "name", str, "")
        kind = _need(data, "kind", str, "")
        if kind == "openai":
            return _openai(data)
        if kind == "custom":
            return _custom(data)
        raise ProviderFileError('kind must be "openai" or "custom"')
    except tomllib.TOMLDecodeError as exc:
        raise ProviderFileError(f"{source}: not TOML ({exc})") from None
    except ProviderFileError as exc:
        raise ProviderFileError(f"{source}: {exc}") from None
    except ValueError as exc:  # Provider's own checks (id format...)
        raise ProviderFileError(f"{source}: {exc}") from None


class ProviderFilePlugin:
    """One provider file as a plugin: its hook reads and parses the file, so a bad file fails (and
    is reported) like a plugin whose hook raised."""

    def __init__(self, source: str, read: Callable[[], str]) -> None:
        self.source = source
        self._read = read

    @hookimpl
    def ai_connector_providers(self) -> list[Provider]:
        """The file's provider."""
        try:
            text = self._read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ProviderFileError(f"{self.source}: cannot be read ({exc})") from None
        return [parse_provider(text, self.source)]


def providers_dir() -> Path:
    """`<home>/providers`: AI_CONNECTOR_HOME, else the platform's user data directory."""
    home = os.environ.get(HOME_ENV)
    if not home:  # the host's default home (host.settings.default_home), read without the host layer
        import platformdirs

        home = platformdirs.user_data_dir("ai-connector", appauthor=False)
    return Path(home) / "providers"


def home_provider_plugins() -> list[tuple[str, ProviderFilePlugin]]:
    """(file name, plugin) for each `*.toml` in `<home>/providers`, sorted."""
    folder = providers_dir()
    if not folder.is_dir():
        return []
    return [
        (path.name, ProviderFilePlugin(str(path), functools.partial(path.read_text, encoding="utf-8")))
        for path in sorted(folder.glob("*.toml"))
    ]


def load_entry_point(ep: metadata.EntryPoint) -> Any:
    """The plugin an entry point names: `pkg:provider.toml` is a provider file in package `pkg`;
    anything else is loaded as usual."""
    attr = ep.attr
    if attr and attr.endswith(".toml"):
        module = ep.module

        def read() -> str:
            return resources.files(module).joinpath(attr).read_text(encoding="utf-8")

        return ProviderFilePlugin(f"{module}:{attr}", read)
    return ep.load()
