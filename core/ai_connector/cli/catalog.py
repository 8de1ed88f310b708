"""`ai-connector providers | schema | plugins`: what this host can connect to, read from the plugins."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ai_connector.cli.common import CliError
from ai_connector.manager import UnknownProviderError, default_registry


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain aligned table (no Rich on this path: `providers` must start fast)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    click.echo(line)
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _warn_failed() -> None:
    failed = default_registry().failed
    if failed:
        names = ", ".join(p.name for p in failed)
        click.echo(
            f"warning: {len(failed)} plugin(s) failed to load: {names} (see `ai-connector plugins`)", err=True
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Elasticsearch `_inference/_services` descriptors.")
def providers(as_json: bool) -> None:
    """List the LLM services this host can connect to."""
    from ai_connector.descriptor import service_descriptor

    registry = default_registry()
    descriptors = [service_descriptor(p) for p in registry]
    if as_json:
        _dump(descriptors)
        return
    rows = [[d["service"], d["name"], ", ".join(d["task_types"])] for d in descriptors]
    _table(["ID", "NAME", "TASK TYPES"], rows)
    _warn_failed()


@click.command()
@click.argument("provider")
@click.option("--task-type", "-t", help="Only the fields that apply to this task type.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON Schemas.")
def schema(provider: str, task_type: str | None, as_json: bool) -> None:
    """Show a provider's settings, authentication and task settings schemas."""
    from ai_connector.types import TaskType, thaw
    from ai_connector.validation import effective_schema, flatten_fields

    registry = default_registry()
    try:
        prov = registry.get(provider)
    except UnknownProviderError as exc:
        raise CliError(str(exc)) from None
    tasks = [t for t in TaskType if t in prov.task_types]
    if task_type is not None:
        try:
            chosen = TaskType(task_type)
        except ValueError:
            raise CliError(
                f"unknown task type {task_type!r}; known: {', '.join(t.value for t in TaskType)}"
            ) from None
        if chosen not in prov.task_types:
            raise CliError(
                f"{prov.name} does not support task type {task_type!r}; it supports: "
                + ", ".join(t.value for t in tasks)
            )
        tasks = [chosen]

    def view(s: Any) -> Any:
        return effective_schema(s, tasks[0]) if task_type else thaw(s)

    out = {
        "provider": prov.id,
        "name": prov.name,
        "task_types": [t.value for t in tasks],
        "settings": view(prov.settings_schema),
        "auth": view(prov.auth_schema),
        "task_settings": {t.value: view(s) for t, s in prov.task_settings_schemas.items() if t in tasks},
    }
    if as_json:
        _dump(out)
        return
    click.echo(f"{prov.name} ({prov.id}) — task types: {', '.join(out['task_types'])}")
    for title, sch in (("Settings", out["settings"]), ("Authentication", out["auth"])):
        click.echo(f"\n{title}:")
        rows = [
            [
                key,
                f.get("title", ""),
                f.get("type", ""),
                "yes" if req else "",
                json.dumps(f["default"]) if "default" in f else "",
            ]
            for key, f, req in flatten_fields(sch)
        ]
        _table(["KEY", "LABEL", "TYPE", "REQUIRED", "DEFAULT"], rows)
    for task, sch in out["task_settings"].items():
        click.echo(f"\nTask settings ({task}):")
        rows = [
            [k, f.get("title", ""), f.get("type", ""), "yes" if r else "", ""]
            for k, f, r in flatten_fields(sch)
        ]
        _table(["KEY", "LABEL", "TYPE", "REQUIRED", "DEFAULT"], rows)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list, failed plugins included.")
def plugins(as_json: bool) -> None:
    """List provider plugins with their distribution, version and status (failed ones included)."""
    registry = default_registry()
    infos = [p.to_dict() for p in registry.plugins]
    if as_json:
        _dump(infos)
        return
    rows = [
        [p["name"], p["distribution"] or "-", p["version"] or "-", p["status"], p["error"] or ""]
        for p in infos
    ]
    _table(["NAME", "DISTRIBUTION", "VERSION", "STATUS", "ERROR"], rows)
    if any(p["status"] == "failed" for p in infos):
        sys.exit(0)
