"""Connector documents from command-line options: `--config KEY=VALUE`, secrets from
`--secret key=value`, `--secret-env key=VAR` or a prompt without echo (so they stay out of shell
history), `--from-file`; and the options `create` and `update` share."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from ai_connector.cli.common import CliError, load_registry

__all__ = [
    "apply_options",
    "check_pairs",
    "check_service",
    "collect_secrets",
    "connector_options",
    "pairs",
    "parse_value",
    "provider_or_none",
    "read_file",
    "registry_for_prompts",
    "secret_label",
]


def parse_value(raw: str) -> Any:
    """`--config` values: JSON when they parse (numbers, booleans, objects), else the string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def pairs(
    items: tuple[str, ...], option: str, *, value_required: bool = False
) -> list[tuple[str, str | None]]:
    """`KEY=VALUE` items as (key, value); a bare `KEY` gives None unless a value is required."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not key or (value_required and not sep):
            example = f"{key or 'model_id'}=VALUE"
            raise CliError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} {example}")
        out.append((key, value if sep else None))
    return out


def check_pairs(config: tuple[str, ...], task_config: tuple[str, ...]) -> None:
    """Refuse a `--config` / `--task-config` item without `=` before anything else happens."""
    pairs(config, "--config", value_required=True)
    pairs(task_config, "--task-config", value_required=True)


def check_service(registry: Any, provider_id: str | None, task_type: str | None) -> None:
    """Refuse an unknown provider or a task type it does not offer, listing the valid ones (before
    anything is saved; the host's own refusal does not list them)."""
    if registry is None or provider_id is None:
        return
    from ai_connector.manager import UnknownProviderError
    from ai_connector.types import TaskType

    try:
        provider = registry.get(provider_id)
    except UnknownProviderError as exc:
        raise CliError(f"{exc} (see `ai-connector providers`)") from None
    offered = [t.value for t in TaskType if t in provider.task_types]
    if task_type is not None and task_type not in offered:
        raise CliError(
            f"{provider.name} ({provider.id}) does not support task type {task_type!r}; "
            f"use one of: {', '.join(offered)}"
        )


def secret_label(provider: Any, key: str) -> str:
    if provider is None:
        return key
    from ai_connector.validation import flatten_fields

    for field_key, field, _ in flatten_fields(provider.auth_schema):
        if field_key == key:
            return f"{field.get('title', key)} ({key})"
    return key


def collect_secrets(secret: tuple[str, ...], secret_env: tuple[str, ...], provider: Any) -> dict[str, str]:
    """Secrets from `--secret k=v`, `--secret k` (prompted without echo) and `--secret-env k=VAR`.
    Secrets stay strings: an API key of digits is still a key, not a number."""
    out: dict[str, str] = {}
    for key, value in pairs(secret, "--secret"):
        if value is None:
            value = click.prompt(secret_label(provider, key), hide_input=True, err=True)
        out[key] = value
    for key, var in pairs(secret_env, "--secret-env"):
        if not var:
            raise CliError(f"--secret-env {key}: expected {key}=ENVIRONMENT_VARIABLE")
        value = os.environ.get(var)
        if value is None:
            raise CliError(f"environment variable {var} is not set (for --secret-env {key}={var})")
        out[key] = value
    return out


def read_file(path: str) -> dict[str, Any]:
    """A connector document (Kibana's create body) from a JSON file, or stdin for `-`."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CliError(f"{path} must hold a JSON object (a connector: name, config, secrets)")
    return doc


def provider_or_none(registry: Any, provider_id: str | None) -> Any:
    if registry is None or provider_id is None:
        return None
    try:
        return registry.get(provider_id)
    except LookupError:
        return None


def registry_for_prompts() -> Any:
    registry = load_registry()
    if registry is not None:
        return registry
    from ai_connector.manager import default_registry

    try:
        return default_registry()
    except Exception:
        return None


def apply_options(
    doc: dict[str, Any],
    *,
    name: str | None,
    config: tuple[str, ...],
    task_config: tuple[str, ...],
    context_window_length: int | None,
    secrets: Mapping[str, str],
) -> dict[str, Any]:
    if name is not None:
        doc["name"] = name
    cfg = doc.setdefault("config", {})
    provider_config = cfg.setdefault("providerConfig", {})
    for key, value in pairs(config, "--config", value_required=True):
        provider_config[key] = parse_value(value or "")
    if task_config:
        task_cfg = cfg.setdefault("taskTypeConfig", {})
        for key, value in pairs(task_config, "--task-config", value_required=True):
            task_cfg[key] = parse_value(value or "")
    if context_window_length is not None:
        cfg["contextWindowLength"] = context_window_length
    if secrets:
        doc.setdefault("secrets", {}).setdefault("providerSecrets", {}).update(secrets)
    return doc


def connector_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options create and update share."""
    options = [
        click.option("--name", help="The connector's name (create: required unless in --from-file)."),
        click.option(
            "--config",
            "-c",
            multiple=True,
            metavar="KEY=VALUE",
            help="A setting (providerConfig), e.g. model_id=gpt-4o; repeatable. Dotted keys for nested ones. "
            "The service's required ones: `ai-connector schema PROVIDER`.",
        ),
        click.option(
            "--secret",
            "-s",
            multiple=True,
            metavar="KEY[=VALUE]",
            help="A secret (providerSecrets); with no value you are prompted without echo.",
        ),
        click.option(
            "--secret-env",
            multiple=True,
            metavar="KEY=VAR",
            help="A secret read from the environment variable VAR.",
        ),
        click.option(
            "--task-config", multiple=True, metavar="KEY=VALUE", help="A task setting (taskTypeConfig)."
        ),
        click.option(
            "--context-window-length", type=click.IntRange(min=1), help="Tokens per request (chat)."
        ),
        click.option(
            "--from-file",
            "-f",
            "from_file",
            metavar="FILE",
            help="A JSON connector document ({name, config, secrets}); '-' reads stdin. Options override it.",
        ),
        click.option(
            "--test", "run_test", is_flag=True, help="Save & test: run the connector's test after saving."
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the connector (and test result) as JSON."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn
