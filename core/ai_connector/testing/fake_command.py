"""`ai-connector fake PROVIDER` (part of the testing kit): try the host with no account. Runs the
provider's wire-exact fake (the `testing` module a provider package ships, e.g.
`ai_connector_openai.testing`) on a port of 127.0.0.1 and prints the `ai-connector create` command
that points a connector at it."""

from __future__ import annotations

import importlib
import inspect
import shlex
import time
from types import ModuleType
from typing import Any

import click

from ai_connector.cli.common import CliError, handle_errors
from ai_connector.cli.documents import check_service

__all__ = ["fake", "fake_class", "testing_module"]


def testing_module(provider_id: str) -> ModuleType:
    """The `testing` module next to the plugin that declared `provider_id`."""
    from ai_connector.manager import default_registry

    registry = default_registry()
    check_service(registry, provider_id, None)
    plugin = registry.plugin_manager.get_plugin(registry.plugin_of(provider_id) or "")
    package = getattr(plugin, "__name__", None) if isinstance(plugin, ModuleType) else None
    if package is None:
        raise CliError(f"the plugin of {provider_id!r} is not a module, so it has no `testing` fake")
    name = f"{package.partition('.')[0]}.testing"  # the distribution's top-level package
    try:
        return importlib.import_module(name)
    except ImportError:
        raise CliError(f"{provider_id!r} ships no fake server ({name} is missing)") from None


def fake_class(module: ModuleType) -> type:
    """The fake service a testing module defines: its class that takes a FakeServer and `install()`s
    routes on it (OpenAIFake, FakeAnthropic, ...)."""
    found = [
        obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and obj.__module__ == module.__name__
        and "fake" in name.lower()
        and callable(getattr(obj, "install", None))
    ]
    if len(found) != 1:
        raise CliError(
            f"{module.__name__} has no runnable fake service (one class that install()s its routes "
            "on a FakeServer, as ai_connector_openai.testing.OpenAIFake does)"
        )
    return found[0]


def _example(module: ModuleType, provider: Any, url: str, api_key: str | None) -> str | None:
    """The create command for a connector aimed at the fake, from the module's `connector()`."""
    build = getattr(module, "connector", None)
    task = "chat_completion" if "chat_completion" in provider.task_types else next(iter(provider.task_types))
    task = getattr(task, "value", task)
    if build is None:
        return None
    try:
        config, secrets = build(url, task, secret=api_key) if api_key else build(url, task)
    except TypeError:
        return None
    args = ["ai-connector", "create", "--name", f"Fake {provider.name}", "-p", provider.id, "-t", task]
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
@click.option("--api-key", help="The key the fake accepts (default: the fake's own test key).")
@handle_errors
def fake(provider: str, port: int, api_key: str | None) -> None:
    """Run PROVIDER's fake service locally, so a connector can be saved, tested and run with no
    account. Stop it with Ctrl-C.

    \b
    ai-connector fake openai --port 8099    # then run the create command it prints
    """
    from ai_connector.manager import default_registry
    from ai_connector.testing import FakeServer

    module = testing_module(provider)
    cls = fake_class(module)
    info = default_registry().get(provider)
    kwargs = {"api_key": api_key} if api_key and "api_key" in inspect.signature(cls).parameters else {}
    try:
        server = FakeServer(port=port).start()
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    try:
        service = cls(server, **kwargs).install()
        key = getattr(service, "api_key", None)
        click.echo(f"Fake {info.name} listening on {server.url}" + (f" (API key: {key})" if key else ""))
        example = _example(module, info, server.url, key)
        if example:
            click.echo("Point a connector at it (in another shell):")
            click.echo(f"  {example}")
        click.echo("Press Ctrl-C to stop.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.stop()
