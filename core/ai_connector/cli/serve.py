"""`ai-connector serve` (the HTTP API and the web page) and `ai-connector rotate-key`."""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ai_connector.cli.common import (
    SETTINGS_EPILOG,
    dump,
    handle_errors,
    load_registry,
    load_settings,
    progress,
    with_service,
)

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService
    from ai_connector.host.settings import HostSettings

__all__ = ["rotate_key", "serve"]


def _is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def _safe_database_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"


def _with_api_keys(settings: HostSettings, keys: dict[str, str]) -> HostSettings:
    import dataclasses

    return dataclasses.replace(settings, api_keys=keys)


@click.command(epilog=SETTINGS_EPILOG)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5601, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option(
    "--workers",
    type=click.IntRange(1, 512),
    default=None,
    help="Worker processes sharing the store [default: AI_CONNECTOR_WORKERS, else one per core].",
)
@handle_errors
def serve(host: str, port: int, log_level: str, workers: int | None) -> None:
    """Serve the HTTP API (Kibana's connector routes) and the web page."""
    from ai_connector.api import serving
    from ai_connector.api.auth import ensure_api_key_file
    from ai_connector.host.service import ConnectorService

    settings = load_settings()
    err = functools.partial(click.echo, err=True)

    async def preflight() -> None:
        # Open (and close) the service once before uvicorn starts: a broken configuration (an
        # invalid preconfigured connector, an unusable key or database) is then one error line
        # here, not a traceback from the server's startup.
        svc = await ConnectorService.open(settings, registry=load_registry())
        await svc.aclose()

    asyncio.run(preflight())
    key_file = None
    if not settings.api_keys:
        key, path, created = ensure_api_key_file(Path(settings.home))
        settings = _with_api_keys(settings, {key: "all"})
        key_file = path
        if created:
            err(f"No API key configured: generated one with the `all` privilege in {path} (mode 0600).")
        else:
            err(f"No API key configured: using the `all` key stored in {path}.")
        err(f"Send it as `Authorization: ApiKey <key>`; read it with: cat {path}")
    else:
        err(f"API keys: {len(settings.api_keys)} configured (AI_CONNECTOR_API_KEYS / ai-connector.toml).")
    err(f"Data directory: {settings.home}")
    err(f"Store: {_safe_database_url(settings.database_url)}")
    err(f"License: {settings.license}")
    if not _is_loopback(host):
        err(
            f"warning: listening on {host} over plain HTTP; API keys cross the network in clear text. "
            "Put TLS in front of it."
        )
    shown = f"[{host}]" if ":" in host else host
    err(f"Web page: http://{shown}:{port}/   API docs: http://{shown}:{port}/api/docs")
    workers = workers or serving.default_workers(settings)
    err(f"Workers: {workers}")
    serving.run(
        settings,
        host=host,
        port=port,
        log_level=log_level,
        workers=workers,
        registry=load_registry(),
        key_file=key_file,
    )


@click.command("rotate-key", epilog=SETTINGS_EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print {total, successful, failed} as JSON.")
@handle_errors
def rotate_key(as_json: bool) -> None:
    """Re-encrypt every connector's secrets with the current key (AI_CONNECTOR_ENCRYPTION_KEY),
    reading them with AI_CONNECTOR_DECRYPTION_ONLY_KEYS where needed."""

    async def work(svc: ConnectorService) -> dict[str, Any]:
        with progress("Re-encrypting connectors…"):
            return await svc.rotate_key()

    counts = with_service(work)
    if as_json:
        dump(counts)
    else:
        click.echo(
            f"Re-encrypted {counts['successful']} of {counts['total']} connector(s); "
            f"{counts['failed']} failed."
        )
        if counts["failed"]:
            click.echo(
                "Connectors that failed could not be decrypted with any configured key: add the key they "
                "were saved with to AI_CONNECTOR_DECRYPTION_ONLY_KEYS, or re-enter their secrets with "
                "`ai-connector update`.",
                err=True,
            )
    if counts["failed"]:
        sys.exit(1)
