"""`ai-connector log <id>`: a connector's execution log (Kibana's event log) in the terminal.

Reads the store the host uses (the embedded SQLite file or the configured PostgreSQL, so hosts
sharing it show one log): a usage summary for the time range (calls, errors by kind, tokens,
p50/p95 latency), then the latest executions, newest first. Prompts, answers and secrets are never
in the log, so they cannot be printed.
"""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["log_command"]


def _summary_line(summary: dict[str, Any]) -> str:
    kinds = ", ".join(f"{kind}: {n}" for kind, n in summary["errors_by_kind"].items())
    latency = summary["latency_ms"]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    return (
        f"{summary['calls']} call(s), {summary['errors']} error(s)"
        + (f" ({kinds})" if kinds else "")
        + f"; tokens in {summary['input_tokens']} / out {summary['output_tokens']}"
        + f"; latency p50 {ms(latency['p50'])}, p95 {ms(latency['p95'])}"
    )


@click.command("log")
@click.argument("connector_id")
@click.option("--since", default="now-24h", show_default=True, help="ISO 8601 date or now-<n><s|m|h|d|w>.")
@click.option("--until", "until", default=None, help="ISO 8601 date (default: now).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100), help="Executions shown.")
@click.option("--failures", is_flag=True, help="Only failed executions.")
@click.option("--json", "as_json", is_flag=True, help="Print {summary, executions} as JSON.")
def log_command(
    connector_id: str, since: str, until: str | None, limit: int, failures: bool, as_json: bool
) -> None:
    """Show CONNECTOR_ID's executions: a usage summary, then the latest runs."""
    from ai_connector.host.errors import HostError
    from ai_connector.host.execlog import ExecutionLog
    from ai_connector.host.execlog_query import DateRange, execution_logs, usage_summary
    from ai_connector.host.settings import HostSettings
    from ai_connector.host.store import ConnectorStore

    try:
        settings = HostSettings.load()
        dates = DateRange.parse(since, until)
        store = ConnectorStore.open(settings.database_url)
    except HostError as exc:
        raise click.ClickException(exc.message) from None
    try:
        execlog = ExecutionLog.open(store.engine)
        quoted = connector_id.replace("\\", "\\\\").replace('"', '\\"')
        kql = f'kibana.action.id: "{quoted}"'
        if failures:
            kql += " and event.outcome: failure"
        summary = usage_summary(execlog, connector_id, dates=dates)
        page = execution_logs(execlog, dates=dates, filter=kql, per_page=limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"summary": summary, "executions": page["data"]}, indent=2))
        return
    click.echo(f"{connector_id} since {summary['date_start']}: {_summary_line(summary)}")
    if not page["data"]:
        click.echo("no executions in this range")
        return
    for entry in page["data"]:
        duration = f"{entry['duration_ms']:.0f} ms"
        click.echo(f"{entry['timestamp']}  {entry['status']:<7}  {duration:>8}  {entry['message']}")
    if page["total"] > len(page["data"]):
        click.echo(f"... {page['total'] - len(page['data'])} more (use --limit or --since)")
