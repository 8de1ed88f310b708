"""Running the HTTP API under uvicorn, in one process or in N worker processes sharing the store.

uvicorn takes uvloop and httptools by itself when they are installed (`loop="auto"`,
`http="auto"`). With more than one worker uvicorn starts each in a fresh interpreter (spawn) from
the import string of `worker_app`, so a worker's settings are read again from the environment and
`ai-connector.toml`: `AI_CONNECTOR_WORKERS` is exported to them, and each worker's rate limiter
takes 1/N of every connector's limit (`runtime/ratelimit.py`). What workers share is the store: a
change made through one worker reaches the others through `host/ready.py`'s revalidation, within
`AI_CONNECTOR_REVALIDATE_INTERVAL`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai_connector.host.settings import ENV_VARS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ai_connector.host.settings import HostSettings
    from ai_connector.manager import ProviderRegistry

__all__ = ["default_workers", "run", "worker_app"]


def default_workers(settings: HostSettings) -> int:
    """`AI_CONNECTOR_WORKERS`, else one worker per core this process may run on."""
    if settings.workers:
        return settings.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


def run(
    settings: HostSettings,
    *,
    host: str,
    port: int,
    log_level: str,
    workers: int,
    registry: ProviderRegistry | None = None,
    key_file: Path | None = None,
) -> None:
    """Serve until interrupted (`registry`: the providers, in a single process only; workers load
    the installed ones). `key_file`: the generated key's path, which the page's sign-in names."""
    import uvicorn

    if workers <= 1:
        from ai_connector.api import create_app
        from ai_connector.api.page import KEY_FILE_STATE

        app = create_app(settings=dataclasses.replace(settings, workers=1), registry=registry)
        setattr(app.state, KEY_FILE_STATE, key_file)
        uvicorn.run(app, host=host, port=port, **_options(log_level))
        return
    # Workers rebuild everything from the environment, so what the parent decided goes there.
    exported = {ENV_VARS["workers"]: str(workers), ENV_VARS["home"]: str(settings.home)}
    before = {name: os.environ.get(name) for name in exported}
    os.environ.update(exported)
    try:
        uvicorn.run(
            "ai_connector.api.serving:worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            **_options(log_level),
        )
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _options(log_level: str) -> dict[str, Any]:
    """uvicorn's settings for `serve`: its HTTP protocol (`api/wire.py`), no `server` header, and
    no access log below the level that shows it (uvicorn would format a line per request only for
    the logger to drop it)."""
    from ai_connector.api.wire import http_protocol

    return {
        "log_level": log_level,
        "access_log": log_level in ("trace", "debug", "info"),
        "server_header": False,
        "http": http_protocol(),
    }


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory); with no API key configured, the home's
    generated key file, as `serve` itself uses."""
    from ai_connector.api import create_app
    from ai_connector.api.auth import ensure_api_key_file
    from ai_connector.api.page import KEY_FILE_STATE
    from ai_connector.host.settings import HostSettings

    settings = HostSettings.load()
    api_keys = None
    key_file = None
    if not settings.api_keys:
        key, key_file, _created = ensure_api_key_file(settings.home)
        api_keys = {key: "all"}
    app = create_app(settings=settings, api_keys=api_keys)
    setattr(app.state, KEY_FILE_STATE, key_file)  # the page's sign-in says where the key is
    return app
