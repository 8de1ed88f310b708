"""`ai-connector create | list | get | update | delete | test`: saved connectors on the embedded
default (SQLite under AI_CONNECTOR_HOME) or the configured store. No command ever prints a secret."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from ai_connector.cli.common import (
    SETTINGS_EPILOG,
    CliError,
    describe,
    dump,
    handle_errors,
    progress,
    stdout_console,
    with_service,
)
from ai_connector.cli.documents import (
    apply_options,
    check_pairs,
    check_service,
    collect_secrets,
    connector_options,
    provider_or_none,
    read_file,
    registry_for_prompts,
    secret_label,
)

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService
    from ai_connector.types import TestResult

__all__ = ["create", "delete", "get", "list_connectors", "print_test", "test", "update"]


def _print_connector(connector: Mapping[str, Any], last_test: Mapping[str, Any] | None = None) -> None:
    cfg = connector.get("config") or {}
    rows = [
        ("ID", connector.get("id")),
        ("Name", connector.get("name")),
        ("Service", cfg.get("provider", "-")),
        ("Task type", cfg.get("taskType", "-")),
        ("Inference ID", cfg.get("inferenceId", "-")),
    ]
    if cfg.get("contextWindowLength") is not None:
        rows.append(("Context window", cfg["contextWindowLength"]))
    rows.append(("Preconfigured", "yes" if connector.get("is_preconfigured") else "no"))
    if connector.get("is_missing_secrets"):
        rows.append(("Secrets", "missing: re-enter them with `ai-connector update`"))
    if last_test:
        when = last_test.get("at") or last_test.get("tested_at") or ""
        rows.append(("Last test", f"{last_test.get('status')} {when}".strip()))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")
    for title, key in (("Settings", "providerConfig"), ("Task settings", "taskTypeConfig")):
        values = cfg.get(key) or {}
        if values:
            click.echo(f"{title}:")
            for k, v in values.items():
                click.echo(f"  {k} = {json.dumps(v, ensure_ascii=False)}")


def _report_saved(verb: str, saved: dict[str, Any], result: TestResult | None, as_json: bool) -> None:
    """Print a created/updated connector (and its Save & test result); exit 1 when the test failed."""
    if as_json:
        dump(saved if result is None else {"connector": saved, "test": result.to_dict()})
    else:
        click.echo(f"{verb} connector {saved['name']!r} ({saved['id']})")
        if result is not None:
            print_test(result, saved["name"])
    if result is not None and not result.ok:
        sys.exit(1)


def print_test(result: TestResult | Mapping[str, Any], name: str) -> None:
    data = result if isinstance(result, Mapping) else result.to_dict()
    latency = f" in {data['latency_ms']:.0f} ms" if data.get("latency_ms") is not None else ""
    if data["status"] == "succeeded":
        click.echo(f"✓ {name}: connector test succeeded{latency}")
    else:
        why = f" ({data['failure']})" if data.get("failure") else ""
        click.echo(f"✗ {name}: connector test failed{why}{latency}: {data['message']}", err=True)


@click.command(epilog=SETTINGS_EPILOG)
@click.option(
    "--provider",
    "-p",
    help="[required unless in --from-file] The service, e.g. openai (see `ai-connector providers`).",
)
@click.option(
    "--task-type",
    "-t",
    help="[required unless in --from-file] One the service offers: chat_completion, completion, "
    "text_embedding, sparse_embedding or rerank.",
)
@click.option("--id", "connector_id", help="Choose the connector's id (default: generated).")
@click.option("--inference-id", help="The inference endpoint id (default: {provider}-{taskType}-{random}).")
@connector_options
@handle_errors
def create(
    provider: str | None,
    task_type: str | None,
    connector_id: str | None,
    inference_id: str | None,
    name: str | None,
    config: tuple[str, ...],
    secret: tuple[str, ...],
    secret_env: tuple[str, ...],
    task_config: tuple[str, ...],
    context_window_length: int | None,
    from_file: str | None,
    run_test: bool,
    as_json: bool,
) -> None:
    """Create (save) a connector; with --test, Save & test.

    \b
    ai-connector create --name "My OpenAI" --provider openai --task-type chat_completion \\
        --config model_id=gpt-4o --secret api_key --test
    """
    doc: dict[str, Any] = read_file(from_file) if from_file else {}
    doc.setdefault("connector_type_id", ".inference")
    cfg = doc.setdefault("config", {})
    if provider is not None:
        cfg["provider"] = provider
    if task_type is not None:
        cfg["taskType"] = task_type
    if inference_id is not None:
        cfg["inferenceId"] = inference_id
    missing = [
        opt
        for opt, present in (
            ("--name", name or doc.get("name")),
            ("--provider", cfg.get("provider")),
            ("--task-type", cfg.get("taskType")),
        )
        if not present
    ]
    if missing:
        raise CliError(f"missing {', '.join(missing)} (or give them in --from-file)")
    registry = registry_for_prompts()
    check_service(registry, cfg.get("provider"), cfg.get("taskType"))
    check_pairs(config, task_config)  # before any prompt for a secret
    prov = provider_or_none(registry, cfg.get("provider")) if secret else None
    secrets = collect_secrets(secret, secret_env, prov)
    doc = apply_options(
        doc,
        name=name,
        config=config,
        task_config=task_config,
        context_window_length=context_window_length,
        secrets=secrets,
    )
    doc.setdefault("secrets", {})

    async def work(svc: ConnectorService) -> tuple[dict[str, Any], TestResult | None]:
        with progress("Saving connector…"):
            saved = await svc.create(doc, connector_id=connector_id, user="cli")
        result = None
        if run_test:
            with progress(f"Testing {saved['name']}…"):
                result = await svc.test(saved["id"], user="cli")
        return saved, result

    saved, result = with_service(work)
    _report_saved("Created", saved, result, as_json)


@click.command("list", epilog=SETTINGS_EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print Kibana's connector list as JSON.")
@handle_errors
def list_connectors(as_json: bool) -> None:
    """List saved and preconfigured connectors."""
    connectors = with_service(lambda svc: svc.list(user="cli"))
    if as_json:
        dump(connectors)
        return
    if not connectors:
        click.echo("No connectors yet. Create one with `ai-connector create` (see --help).")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ID", "NAME", "SERVICE", "TASK TYPE", "NOTES"):
        table.add_column(column, overflow="fold")
    for c in connectors:
        cfg = c.get("config") or {}
        notes = []
        if c.get("is_preconfigured"):
            notes.append("preconfigured")
        if c.get("is_missing_secrets"):
            notes.append("missing secrets")
        table.add_row(
            c["id"], c["name"], cfg.get("provider", "-"), cfg.get("taskType", "-"), ", ".join(notes)
        )
    stdout_console().print(table)


@click.command(epilog=SETTINGS_EPILOG)
@click.argument("connector_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the connector as Kibana returns it.")
@handle_errors
def get(connector_id: str, as_json: bool) -> None:
    """Show one connector (never its secrets)."""

    async def work(svc: ConnectorService) -> tuple[dict[str, Any], dict[str, Any]]:
        return await svc.get(connector_id, user="cli"), await svc.details(connector_id)

    connector, details = with_service(work)
    if as_json:
        dump(connector)
    else:
        _print_connector(connector, details.get("last_test"))


@click.command(epilog=SETTINGS_EPILOG)
@click.argument("connector_id", metavar="ID")
@connector_options
@handle_errors
def update(
    connector_id: str,
    name: str | None,
    config: tuple[str, ...],
    secret: tuple[str, ...],
    secret_env: tuple[str, ...],
    task_config: tuple[str, ...],
    context_window_length: int | None,
    from_file: str | None,
    run_test: bool,
    as_json: bool,
) -> None:
    """Change a connector's name or settings. The service and task type are fixed and, as in
    Kibana, the secrets must be given again (prompted for when you give none on a terminal)."""
    from ai_connector.host.errors import BadRequestError

    check_pairs(config, task_config)
    from_doc = read_file(from_file) if from_file else None

    async def work(svc: ConnectorService) -> tuple[dict[str, Any], TestResult | None]:
        current = await svc.get(connector_id, user="cli")
        doc: dict[str, Any]
        if from_doc is not None:
            doc = {"name": from_doc.get("name", current["name"]), "config": from_doc.get("config", {})}
            if "secrets" in from_doc:
                doc["secrets"] = from_doc["secrets"]
        else:
            doc = {"name": current["name"], "config": dict(current.get("config") or {})}
        cfg = doc["config"]
        current_cfg = current.get("config") or {}
        for key in ("provider", "taskType", "inferenceId"):
            if key in current_cfg:
                cfg.setdefault(key, current_cfg[key])
        cfg["providerConfig"] = dict(cfg.get("providerConfig") or {})
        provider = provider_or_none(svc.registry, cfg.get("provider"))
        secrets = collect_secrets(secret, secret_env, provider)
        if not secrets and not doc.get("secrets") and provider is not None and sys.stdin.isatty():
            for key in provider.auth_schema.get("required", ()):
                secrets[key] = click.prompt(secret_label(provider, key), hide_input=True, err=True)
        doc = apply_options(
            doc,
            name=name,
            config=config,
            task_config=task_config,
            context_window_length=context_window_length,
            secrets=secrets,
        )
        doc.setdefault("secrets", {})
        with progress("Saving connector…"):
            try:
                saved = await svc.update(connector_id, doc, user="cli")
            except BadRequestError as exc:
                gave_none = not (doc.get("secrets") or {}).get("providerSecrets")
                if gave_none and any(e.path.startswith("secrets.") for e in exc.errors):
                    raise CliError(
                        f"{describe(exc)}. As in Kibana, an update must give the secrets again: "
                        "--secret KEY (prompted), --secret KEY=VALUE or --secret-env KEY=VAR"
                    ) from None
                raise
        result = None
        if run_test:
            with progress(f"Testing {saved['name']}…"):
                result = await svc.test(connector_id, user="cli")
        return saved, result

    saved, result = with_service(work)
    _report_saved("Updated", saved, result, as_json)


@click.command(epilog=SETTINGS_EPILOG)
@click.argument("connector_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def delete(connector_id: str, yes: bool) -> None:
    """Delete a connector. It cannot be recovered."""

    async def work(svc: ConnectorService) -> str:
        connector = await svc.get(connector_id, user="cli")
        label = f"{connector['name']!r} ({connector_id})"
        if not yes and not click.confirm(f"Delete connector {label}? It cannot be recovered.", err=True):
            raise click.Abort()
        await svc.delete(connector_id, user="cli")
        return label

    label = with_service(work)
    click.echo(f"Deleted connector {label}")


@click.command(epilog=SETTINGS_EPILOG)
@click.argument("connector_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the test result as JSON.")
@handle_errors
def test(connector_id: str, as_json: bool) -> None:
    """Test a saved connector with Kibana's default request (exit status 1 when it fails)."""

    async def work(svc: ConnectorService) -> tuple[str, TestResult]:
        connector = await svc.get(connector_id, user="cli")
        with progress(f"Testing {connector['name']}…"):
            return connector["name"], await svc.test(connector_id, user="cli")

    name, result = with_service(work)
    if as_json:
        dump({"connector_id": connector_id, **result.to_dict()})
    else:
        print_test(result, name)
    if not result.ok:
        sys.exit(1)
