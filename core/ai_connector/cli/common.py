"""What every command shares: one error line (`error: ...`, exit status 1; `--debug` or
AI_CONNECTOR_DEBUG=1 adds the traceback), the ConnectorService opened for a command's duration
(`asyncio.run`), and output helpers (JSON, a spinner on stderr)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService
    from ai_connector.host.settings import HostSettings
    from ai_connector.manager import ProviderRegistry

__all__ = [
    "SETTINGS_EPILOG",
    "CliError",
    "describe",
    "dump",
    "handle_errors",
    "load_registry",
    "load_settings",
    "progress",
    "stderr_console",
    "stdout_console",
    "with_service",
]

T = TypeVar("T")

# The epilog of every command that opens the host's store: where its settings come from.
SETTINGS_EPILOG = (
    "Settings: AI_CONNECTOR_* environment variables, or ai-connector.toml in the data directory "
    "(AI_CONNECTOR_HOME; default: the platform's user data dir): AI_CONNECTOR_DATABASE_URL, "
    "AI_CONNECTOR_ALLOWED_HOSTS, AI_CONNECTOR_REQUEST_TIMEOUT, AI_CONNECTOR_ENCRYPTION_KEY, ... "
    "(README, Host settings)."
)


class CliError(click.ClickException):
    """A problem the user can fix; printed as `error: <message>` with exit status 1, the one error
    prefix of every command."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def describe(exc: BaseException) -> str:
    """One readable line for any error: the field errors themselves (`path: message; ...`) when it
    has them (Kibana's "error validating connector config: [path]: ..." says them once more), else
    the host's text."""
    from ai_connector.errors import ConfigValidationError, FieldError

    errors = exc.errors if isinstance(exc, ConfigValidationError) else getattr(exc, "errors", ())
    if errors and all(isinstance(e, FieldError) for e in errors):
        text = "; ".join(f"{e.path}: {e.message}" if e.path else e.message for e in errors)
    else:
        message = getattr(exc, "message", None)
        text = message if isinstance(message, str) and message else str(exc)
    return " ".join(text.split()) or type(exc).__name__  # one line


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds `--debug` and turns any failure into `error: ...` on stderr and exit status 1."""

    @click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
    @functools.wraps(fn)
    def wrapper(*args: Any, debug: bool, **kwargs: Any) -> Any:
        debug = debug or os.environ.get("AI_CONNECTOR_DEBUG", "").lower() in ("1", "true", "yes")
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("aborted", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"error: {describe(exc)}", err=True)
            sys.exit(1)

    return wrapper


def load_registry() -> ProviderRegistry | None:
    """The providers the service uses; None lets the service load the installed plugins.
    (Tests replace this to run the CLI against a fake provider.)"""
    return None


def load_settings() -> HostSettings:
    from ai_connector.host.settings import HostSettings

    return HostSettings.load()


def with_service(work: Callable[[ConnectorService], Awaitable[T]]) -> T:
    """Open the service, run `work`, close it, all in one event loop."""
    from ai_connector.host.service import ConnectorService

    async def main() -> T:
        svc = await ConnectorService.open(load_settings(), registry=load_registry())
        try:
            return await work(svc)
        finally:
            await svc.aclose()

    return asyncio.run(main())


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while a long operation runs (only on a terminal)."""
    console = stderr_console()
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


def dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def stdout_console() -> Any:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200, no_color=True)
