"""`ai-connector fake PROVIDER` (part of the testing kit): try the host with no account. Serves the
provider's wire-exact fake (its testing module's `FAKE`, see `ai_connector.testing.fakes`) on a
port of 127.0.0.1 and prints the `ai-connector create` command that points a connector at it."""

from __future__ import annotations

import shlex
import threading

import click

from ai_connector.cli.common import CliError, handle_errors
from ai_connector.testing.fakes import DEFAULT_KEY, ProviderFake, provider_fake
from ai_connector.testing.fakeserver import FakeServer

__all__ = ["create_command", "fake"]


def create_command(fake: ProviderFake, name: str, task_type: str) -> str:
    """The `ai-connector create ... --test` line for a connector aimed at `fake`."""
    config, secrets = fake.connector(task_type)
    args = ["ai-connector", "create", "--name", name, "-p", fake.provider_id, "-t", task_type]
    for key, value in config.items():
        args += ["-c", f"{key}={value}"]
    for key, value in secrets.items():
        args += ["--secret", f"{key}={value}"]
    return shlex.join([*args, "--test"])


@click.command()
@click.argument("provider")
@click.option(
    "--port", default=8099, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1."
)
@click.option("--api-key", default=DEFAULT_KEY, show_default=True, help="The key the fake accepts.")
@click.option(
    "--task-type",
    "-t",
    help="The printed connector's task type (default: chat_completion, else the provider's first).",
)
@handle_errors
def fake(provider: str, port: int, api_key: str, task_type: str | None) -> None:
    """Serve PROVIDER's fake locally, so a connector can be saved, tested and run with no account.
    Stop it with Ctrl-C.

    \b
    ai-connector fake openai --port 8099    # then run the create command it prints
    """
    from ai_connector.manager import default_registry
    from ai_connector.types import TaskType

    try:
        fake_cls = provider_fake(provider)
    except LookupError as exc:
        raise CliError(f"{exc} (see `ai-connector providers`)") from None
    info = default_registry().get(provider)
    offered = [t.value for t in TaskType if t in info.task_types]
    if task_type is None:
        task_type = "chat_completion" if "chat_completion" in offered else offered[0]
    if task_type not in offered:
        raise CliError(f"{info.name} ({provider}) does not support task type {task_type!r}")
    try:
        server = FakeServer(port=port).start()
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    try:
        service = fake_cls(server, api_key=api_key)
        click.echo(f"Fake {info.name} listening on {service.url} (API key: {api_key})")
        click.echo("Point a connector at it (in another shell):")
        click.echo(f"  {create_command(service, f'Fake {info.name}', task_type)}")
        click.echo("Press Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.stop()
