"""JSON-Schema-driven validation of connector documents and of provider schemas.

A connector is checked against `schemas/connector.schema.json`, then its providerConfig,
providerSecrets and taskTypeConfig (dotted keys un-flattened as Kibana does) against the chosen
provider's schemas for the chosen task type. Every error is collected, each naming the JSON path, the
field's label and a plain reason; no message ever contains a submitted value, so secrets cannot leak.
"""

from __future__ import annotations

import json
import secrets as _random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from ai_connector.errors import ConfigValidationError, FieldError, HostNotAllowedError, UnknownProviderError
from ai_connector.schemas_access import load_schema
from ai_connector.types import InferenceEndpoint, Provider, Secrets, TaskType, thaw
from ai_connector.urlpolicy import UrlPolicy, url_problem

__all__ = [
    "ProviderLookup",
    "ValidatedConnector",
    "check_provider_schemas",
    "effective_schema",
    "flatten_fields",
    "schema_errors",
    "unflatten",
    "validate_connector",
]


class ProviderLookup(Protocol):
    """What validation needs of a registry (`manager.ProviderRegistry` is one): a provider by id."""

    def get(self, provider_id: str) -> Provider:
        """The provider; UnknownProviderError when none has this id."""
        ...


_FORMATS = FormatChecker(formats=())


def _is_url(value: object) -> bool:
    return not isinstance(value, str) or url_problem(value) is None


# Registered by a call, not as a decorator: jsonschema is untyped, and its decorator would untype this.
_FORMATS.checks("uri", raises=ValueError)(_is_url)


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}

_META_VALIDATOR: Draft202012Validator | None = None


def _meta() -> Draft202012Validator:
    global _META_VALIDATOR
    if _META_VALIDATOR is None:
        _META_VALIDATOR = Draft202012Validator(load_schema("provider-schema.meta.json"))
    return _META_VALIDATOR


# ---------------------------------------------------------------------------------------------
# Dotted keys


def unflatten(data: Mapping[str, Any], *, path: str = "") -> tuple[dict[str, Any], list[FieldError]]:
    """Kibana's `unflattenObject`: `{"a.b": 1}` -> `{"a": {"b": 1}}`; clashes become errors."""
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            value, sub = unflatten(value, path=f"{path}.{key}" if path else str(key))
            errors += sub
        parts = str(key).split(".")
        node = out
        ok = True
        for i, part in enumerate(parts[:-1]):
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                ok = False
                break
            node = nxt
            del i
        leaf = parts[-1]
        if ok and leaf in node and isinstance(node[leaf], dict) and isinstance(value, dict):
            node[leaf].update(value)
        elif ok and leaf not in node:
            node[leaf] = value
        else:
            full = f"{path}.{key}" if path else str(key)
            errors.append(FieldError(full, str(key), str(key), f"'{key}' is given twice (dotted and nested)"))
    return out, errors


def _drop_empty(data: Any) -> Any:
    """Remove None and "" values (Kibana treats an empty field as not filled in)."""
    if isinstance(data, Mapping):
        cleaned = {k: _drop_empty(v) for k, v in data.items() if v is not None and v != ""}
        return {
            k: v for k, v in cleaned.items() if not (isinstance(v, dict) and not v and k in data and data[k])
        }
    return data


# ---------------------------------------------------------------------------------------------
# Provider schemas


def flatten_fields(
    schema: Mapping[str, Any], prefix: str = ""
) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """(dotted key, field schema, required) for every leaf field, in declaration order."""
    required = set(schema.get("required", ()))
    for name, field in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        if field.get("type") == "object" and "properties" in field:
            yield from flatten_fields(field, key + ".")
        else:
            yield key, field, name in required


def effective_schema(schema: Mapping[str, Any], task_type: TaskType | str) -> dict[str, Any]:
    """The schema as it applies to `task_type`: fields whose `x-task-types` exclude it are removed."""
    task = TaskType(task_type).value
    out: dict[str, Any] = thaw(schema)

    def prune(node: dict[str, Any]) -> None:
        props = node.get("properties")
        if not isinstance(props, dict):
            return
        for name in list(props):
            field = props[name]
            tasks = field.get("x-task-types")
            if tasks is not None and task not in tasks:
                del props[name]
                if "required" in node:
                    node["required"] = [r for r in node["required"] if r != name]
            elif isinstance(field, dict):
                prune(field)
        for key in ("oneOf", "anyOf"):
            if key in node:
                alts = [a for a in node[key] if all(r in props for r in a.get("required", ()))]
                if len(alts) >= 2:
                    node[key] = alts
                else:
                    del node[key]

    prune(out)
    return out


def check_provider_schemas(provider: Provider) -> list[str]:
    """Why the provider's schemas are unusable (empty when they are fine).

    A schema set that passed before (same content, same meta-schema) is not checked again: see
    `ai_connector.schemacache`.
    """
    from ai_connector.schemacache import schema_check_cache

    schemas = [("settings_schema", provider.settings_schema), ("auth_schema", provider.auth_schema)]
    schemas += [(f"task_settings_schemas[{t.value}]", s) for t, s in provider.task_settings_schemas.items()]
    task_values = sorted(t.value for t in provider.task_types)
    cache = schema_check_cache()
    digest = cache.digest([task_values, [(label, thaw(s)) for label, s in schemas]])
    if digest in cache:
        return []
    problems = _schema_problems(schemas, set(task_values))
    if not problems:
        cache.add(digest)
    return problems


def _schema_problems(schemas: list[tuple[str, Mapping[str, Any]]], task_values: set[str]) -> list[str]:
    problems: list[str] = []
    for label, schema in schemas:
        plain = thaw(schema)
        try:
            Draft202012Validator.check_schema(plain)
        except jsonschema.SchemaError as exc:
            problems.append(f"{label} is not valid JSON Schema: {exc.message}")
            continue
        for err in _meta().iter_errors(plain):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            problems.append(f"{label} breaks the provider meta-schema at {where}: {err.message[:200]}")
        if problems:
            continue
        _check_required_exist(plain, label, problems)
        for key, field, _ in flatten_fields(plain):
            extra = set(field.get("x-task-types", ())) - task_values
            if extra:
                problems.append(f"{label} field {key!r} names task types the provider lacks: {sorted(extra)}")
            if label == "auth_schema" and field.get("x-sensitive") is False:
                problems.append(f"auth_schema field {key!r} must be sensitive")
            if label != "auth_schema" and field.get("x-sensitive"):
                problems.append(f"{label} field {key!r} is sensitive: secrets belong in auth_schema")
    return problems


def _check_required_exist(node: Mapping[str, Any], label: str, problems: list[str]) -> None:
    props = node.get("properties", {})
    names = list(node.get("required", ()))
    for key in ("oneOf", "anyOf"):
        for alt in node.get(key, ()):
            names += alt.get("required", [])
    for name in names:
        if name not in props:
            problems.append(f"{label} requires {name!r}, which it does not declare")
    for field in props.values():
        if field.get("type") == "object" and "properties" in field:
            _check_required_exist(field, label, problems)


# ---------------------------------------------------------------------------------------------
# Error messages


def _label_at(root: Mapping[str, Any], path: Iterable[Any]) -> str | None:
    node: Any = root
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {}) if isinstance(node, Mapping) else {}
            continue
        props = node.get("properties", {}) if isinstance(node, Mapping) else {}
        if part in props:
            node = props[part]
        elif isinstance(node, Mapping) and isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return None
    return node.get("title") if isinstance(node, Mapping) else None


def _join(prefix: str, parts: Iterable[Any]) -> str:
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _labels_of(schema: Mapping[str, Any], names: Iterable[str]) -> str:
    props = schema.get("properties", {})
    return " or ".join(props.get(n, {}).get("title", n) for n in names)


def _messages(err: ValidationError, root: Mapping[str, Any], prefix: str) -> list[FieldError]:
    path = list(err.absolute_path)
    here = _join(prefix, path)
    field = str(path[-1]) if path else (prefix.rsplit(".", 1)[-1] if prefix else "")
    label = err.schema.get("title") if isinstance(err.schema, Mapping) else None
    label = label or _label_at(root, path) or field or "value"
    v, val = err.validator, err.validator_value
    if v == "required":
        out = []
        props = err.schema.get("properties", {})
        for name in val:
            if isinstance(err.instance, Mapping) and name not in err.instance:
                lab = props.get(name, {}).get("title") or name
                out.append(FieldError(_join(here, [name]), name, lab, f"{lab} is required"))
        return out
    if v == "additionalProperties":
        props = err.schema.get("properties", {})
        extras = [k for k in err.instance if k not in props] if isinstance(err.instance, Mapping) else []
        known = ", ".join(props) or "none"
        return [
            FieldError(_join(here, [k]), str(k), str(k), f"'{k}' is not a known field here (known: {known})")
            for k in extras
        ]
    if v == "type":
        types = [val] if isinstance(val, str) else list(val)
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        msg = f"{label} must be {words}"
    elif v == "enum":
        msg = f"{label} must be one of: {', '.join(map(str, val))}"
    elif v == "const":
        msg = f"{label} must be {json.dumps(val)}"
    elif v == "minimum":
        msg = f"{label} must be at least {val}"
    elif v == "exclusiveMinimum":
        msg = f"{label} must be greater than {val}"
    elif v == "maximum":
        msg = f"{label} must be at most {val}"
    elif v == "exclusiveMaximum":
        msg = f"{label} must be less than {val}"
    elif v == "minLength":
        msg = f"{label} is required" if val == 1 else f"{label} must have at least {val} characters"
    elif v == "maxLength":
        msg = f"{label} must have at most {val} characters"
    elif v == "pattern":
        msg = f"{label} has characters that are not allowed"
    elif v == "format":
        if val == "uri":
            msg = f"{label} {url_problem(str(err.instance)) or 'must be an http(s) URL'}"
        else:
            msg = f"{label} must be a valid {val}"
    elif v == "minItems":
        msg = f"{label} must have at least {val} item(s)"
    elif v == "maxItems":
        msg = f"{label} must have at most {val} item(s)"
    elif v == "uniqueItems":
        msg = f"{label} must not repeat items"
    elif v in ("oneOf", "anyOf") and all(isinstance(a, Mapping) and "required" in a for a in val):
        names = _labels_of(err.schema, [n for a in val for n in a["required"]])
        word = "exactly one" if v == "oneOf" else "at least one"
        msg = f"Provide {word} of {names}"
    else:
        msg = f"{label} is not valid ({v})"
    return [FieldError(here, field, label, msg)]


def schema_errors(validator: Draft202012Validator, instance: Any, prefix: str = "") -> list[FieldError]:
    """Every error of `instance` against the validator's schema, as FieldErrors under `prefix`."""
    out: list[FieldError] = []
    root = validator.schema
    for err in validator.iter_errors(instance):
        out += _messages(err, root, prefix)
    return sorted(dict.fromkeys(out), key=lambda e: e.path)  # some validators report an error twice


def _json_fields(schema: Mapping[str, Any], data: Mapping[str, Any], prefix: str) -> list[FieldError]:
    """`x-format: json` fields must hold a JSON object (e.g. a service-account key)."""
    out = []
    for key, field, _ in flatten_fields(schema):
        if field.get("x-format") != "json":
            continue
        node: Any = data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, str):
            try:
                ok = isinstance(json.loads(node), dict)
            except ValueError:
                ok = False
            if not ok:
                label = field.get("title", key)
                out.append(FieldError(f"{prefix}.{key}", key, label, f"{label} must be a JSON object"))
    return out


# ---------------------------------------------------------------------------------------------
# Connector documents


_VALIDATORS: dict[tuple[int, str, str], tuple[Any, Draft202012Validator]] = {}


def _validator_for(
    provider: Provider, kind: str, task: TaskType, schema: Mapping[str, Any]
) -> Draft202012Validator:
    """Compiled validators are cached per provider, schema kind and task type."""
    key = (id(provider), kind, task.value)
    hit = _VALIDATORS.get(key)
    if hit is not None and hit[0] is provider:
        return hit[1]
    validator = Draft202012Validator(effective_schema(schema, task), format_checker=_FORMATS)
    _VALIDATORS[key] = (provider, validator)
    return validator


_DOC_VALIDATOR: Draft202012Validator | None = None


def _doc_validator() -> Draft202012Validator:
    global _DOC_VALIDATOR
    if _DOC_VALIDATOR is None:
        _DOC_VALIDATOR = Draft202012Validator(load_schema("connector.schema.json"), format_checker=_FORMATS)
    return _DOC_VALIDATOR


def _apply_defaults(schema: Mapping[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    for name, field in schema.get("properties", {}).items():
        if name not in data:
            if "default" in field:
                data[name] = thaw(field["default"])
            elif field.get("type") == "object" and "properties" in field:
                nested = _apply_defaults(field, {})
                if nested:
                    data[name] = nested
        elif isinstance(data[name], dict) and "properties" in field:
            _apply_defaults(field, data[name])
    return data


@dataclass(frozen=True)
class ValidatedConnector:
    """A connector that passed validation: normalised Kibana config plus its (masked) secrets."""

    name: str
    provider: Provider
    task_type: TaskType
    inference_id: str
    config: Mapping[str, Any]
    secrets: Secrets
    connector_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"ValidatedConnector(name={self.name!r}, provider={self.provider.id!r}, "
            f"task_type={self.task_type.value!r}, inference_id={self.inference_id!r}, "
            f"secrets={self.secrets!r})"
        )

    @property
    def context_window_length(self) -> int | None:
        """Kibana's contextWindowLength, when set."""
        return self.config.get("contextWindowLength")

    def endpoint(self) -> InferenceEndpoint:
        """The InferenceEndpoint the provider's calls receive."""
        return InferenceEndpoint(
            inference_id=self.inference_id,
            task_type=self.task_type,
            settings=self.config.get("providerConfig", {}),
            secrets=self.secrets,
            task_settings=self.config.get("taskTypeConfig", {}),
            headers=self.config.get("headers", {}),
            connector_id=self.connector_id,
        )


def _generate_inference_id(provider: str, task: str) -> str:
    """Kibana's `{provider}-{taskType}-{random base36}` (generateInferenceEndpointId)."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return f"{provider}-{task}-" + "".join(_random.choice(alphabet) for _ in range(10))


def validate_connector(
    document: Any,
    registry: ProviderLookup,
    *,
    require_secrets: bool = True,
    url_policy: UrlPolicy | None = None,
    host_settings: Mapping[str, Mapping[str, Any]] | None = None,
    connector_id: str | None = None,
) -> ValidatedConnector:
    """Validate a connector document; raises ConfigValidationError with every problem found.

    `require_secrets=False` accepts missing secrets (a stored connector whose secrets were stripped);
    `url_policy` also checks the URLs the provider will call against the host's allowedHosts.
    """
    errors = schema_errors(_doc_validator(), document)
    if errors or not isinstance(document, Mapping):
        if not isinstance(document, Mapping):
            errors = errors or [FieldError("", "", "Connector", "Connector must be an object")]
        raise ConfigValidationError(errors)
    config = dict(document["config"])
    provider_id, task_value = config["provider"], config["taskType"]
    try:
        provider = registry.get(provider_id)
    except UnknownProviderError:
        raise ConfigValidationError(
            [
                FieldError(
                    "config.provider",
                    "provider",
                    "Service",
                    f"API Provider is not supported: {provider_id} by Inference Endpoint.",
                )
            ]
        ) from None
    try:
        task = TaskType(task_value)
    except ValueError:
        raise ConfigValidationError(
            [
                FieldError(
                    "config.taskType",
                    "taskType",
                    "Task type",
                    f"Task type is not supported: {task_value} by Inference Endpoint.",
                )
            ]
        ) from None
    if task not in provider.task_types:
        offered = ", ".join(t.value for t in TaskType if t in provider.task_types)
        raise ConfigValidationError(
            [
                FieldError(
                    "config.taskType",
                    "taskType",
                    "Task type",
                    f"Task type {task.value} is not supported by {provider.name} (supported: {offered})",
                )
            ]
        )

    settings, errs = unflatten(_drop_empty(config.get("providerConfig") or {}), path="config.providerConfig")
    errors += errs
    task_settings, errs = unflatten(
        _drop_empty(config.get("taskTypeConfig") or {}), path="config.taskTypeConfig"
    )
    errors += errs
    raw_secrets = (document.get("secrets") or {}).get("providerSecrets") or {}
    secret_values, errs = unflatten(_drop_empty(raw_secrets), path="secrets.providerSecrets")
    errors += errs

    settings_schema = effective_schema(provider.settings_schema, task)
    settings = _apply_defaults(settings_schema, settings)
    errors += schema_errors(
        _validator_for(provider, "settings", task, provider.settings_schema),
        settings,
        "config.providerConfig",
    )
    task_schema = provider.task_settings_schemas.get(task)
    if task_schema is not None:
        task_settings = _apply_defaults(effective_schema(task_schema, task), task_settings)
        errors += schema_errors(
            _validator_for(provider, "task", task, task_schema), task_settings, "config.taskTypeConfig"
        )
    elif task_settings:
        errors += [
            FieldError(f"config.taskTypeConfig.{k}", k, k, f"'{k}' is not a known field here (known: none)")
            for k in task_settings
        ]
    auth_validator = _validator_for(provider, "auth", task, provider.auth_schema)
    if require_secrets or secret_values:
        errors += schema_errors(auth_validator, secret_values, "secrets.providerSecrets")
        errors += _json_fields(auth_validator.schema, secret_values, "secrets.providerSecrets")
    if config.get("contextWindowLength") is not None and task is not TaskType.CHAT_COMPLETION:
        errors.append(
            FieldError(
                "config.contextWindowLength",
                "contextWindowLength",
                "Context window length",
                "Context window length applies only to the chat_completion task type",
            )
        )
    if errors:
        raise ConfigValidationError(errors)

    config["providerConfig"] = settings
    config["taskTypeConfig"] = task_settings
    config.setdefault("inferenceId", _generate_inference_id(provider.id, task.value))
    validated = ValidatedConnector(
        name=document["name"],
        provider=provider,
        task_type=task,
        inference_id=config["inferenceId"],
        config=config,
        secrets=Secrets(_flat_secrets(secret_values)),
        connector_id=connector_id or document.get("id"),
    )
    if url_policy is not None:
        check_urls(validated, url_policy, (host_settings or {}).get(provider.id, {}))
    return validated


def _field_in(url: str, settings: Mapping[str, Any]) -> str:
    """The setting `url`'s host came from: the longest value in its authority, else in it, else `url`."""
    host = url.partition("//")[2].partition("/")[0]  # no parser: `url` may not parse
    found = [(v in host, len(v), k) for k, v in settings.items() if v and isinstance(v, str) and v in url]
    return max(found)[2] if found else "url"


def _flat_secrets(values: Mapping[str, Any]) -> dict[str, str]:
    """Secrets as a flat str mapping (nested groups keep dotted keys)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update({f"{key}.{k}": v for k, v in _flat_secrets(value).items()})
        else:
            out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def check_urls(connector: ValidatedConnector, policy: UrlPolicy, host_settings: Mapping[str, Any]) -> None:
    """Refuse (400-style ConfigValidationError) a connector whose provider URLs the host does not allow."""
    if connector.provider.urls is None:
        return
    errors: dict[str, FieldError] = {}  # one per field, however many URLs a provider builds from it
    settings = connector.config.get("providerConfig", {})
    for url in connector.provider.urls(connector.endpoint(), host_settings):
        # A URL built from settings (a host-name field, a template) meets a URL field's rules; a
        # malformed one is named by its fault, never echoed (CR/LF would break a log line).
        problem = url_problem(url)
        name = _field_in(url, settings)
        if name in errors or (problem is None and policy.is_allowed(url)):
            continue
        label = _label_at(connector.provider.settings_schema, [name]) or name
        why = f"{label} {problem}" if problem else HostNotAllowedError.message_for(url)
        errors[name] = FieldError(f"config.providerConfig.{name}", name, label, why)
    if errors:
        raise ConfigValidationError(list(errors.values()))
