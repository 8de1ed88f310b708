"""The `ai-connector` command line. Subcommands are imported only when run, so `ai-connector
providers` stays as cheap as the imports it needs (no FastAPI, SQLAlchemy or Rich on that path)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

__all__ = ["cli", "main"]

# command name -> "module:attribute"; loaded on use.
COMMANDS: dict[str, str] = {
    "providers": "ai_connector.cli.catalog:providers",
    "schema": "ai_connector.cli.catalog:schema",
    "plugins": "ai_connector.cli.catalog:plugins",
    "create": "ai_connector.cli.connectors:create",
    "list": "ai_connector.cli.connectors:list_connectors",
    "get": "ai_connector.cli.connectors:get",
    "update": "ai_connector.cli.connectors:update",
    "delete": "ai_connector.cli.connectors:delete",
    "test": "ai_connector.cli.connectors:test",
    "run": "ai_connector.cli.connectors:run",
    "serve": "ai_connector.cli.connectors:serve",
    "rotate-key": "ai_connector.cli.connectors:rotate_key",
    "log": "ai_connector.cli.executions:log_command",
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:  # a command not built yet must not break the rest
            raise click.ClickException(f"command {cmd_name!r} is unavailable: {exc}") from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ai-connector", prog_name="ai-connector")
def cli() -> None:
    """Named, saved, tested connections to LLM services (Kibana's AI Connector)."""


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="ai-connector")
