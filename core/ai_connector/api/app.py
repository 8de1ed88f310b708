"""The FastAPI application: Kibana's connector routes on top of a ConnectorService.

`create_app(service)` serves a service the caller owns (and closes); `create_app(settings=...)`
(or no argument: settings from the environment) opens one on startup and closes it on shutdown.
Authentication and the CSRF header are checked by an ASGI middleware before any body is parsed,
so an anonymous caller learns nothing, not even whether its JSON was valid.

`_execute`, the one hot route, is answered by a second ASGI layer (ExecuteFastPath) when its body
is well formed, without FastAPI's routing, dependency solving and response-model validation; the
FastAPI route stays for the OpenAPI document and answers every other body with its exact 400s.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import ai_connector
from ai_connector.api.auth import ApiKeyAuth, Principal, require_xsrf
from ai_connector.api.errors import ApiError, install_error_handlers, response_for
from ai_connector.api.execlog_routes import router as execlog_router
from ai_connector.api.guards import DEFAULT_MAX_PAYLOAD_BYTES, BodyGuard, SecurityHeaders
from ai_connector.api.openai import OpenAIRoutes
from ai_connector.api.openai.schema import add_openai_routes
from ai_connector.api.page import install_page
from ai_connector.api.routes import execute_response, router

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService
    from ai_connector.host.settings import HostSettings
    from ai_connector.manager import ProviderRegistry

__all__ = ["PROTECTED_PREFIXES", "ExecuteFastPath", "create_app"]

log = logging.getLogger("ai_connector.api")

# Everything under these needs an API key; the web page and the OpenAPI document do not.
PROTECTED_PREFIXES = ("/api/actions", "/internal/", "/metrics")


class AuthMiddleware:
    """Authenticates `/api/actions/*` and `/internal/*` calls and requires `kbn-xsrf` on mutating ones."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and sum(1 for k, _ in scope["headers"] if k.lower() == b"authorization") > 1
        ):
            # On every route (OpenAI's too): proxies and frameworks disagree on which value wins.
            await response_for(ApiError(400, "Request must contain exactly one Authorization header."))(
                scope, receive, send
            )
            return
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth: ApiKeyAuth | None = getattr(self.api.state, "auth", None)
        try:
            if auth is None:
                raise ApiError(503, "the connector service is not ready")
            principal = auth.authenticate(headers.get("authorization"), scope["path"])
            require_xsrf(scope["method"], headers)
        except ApiError as exc:
            await response_for(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


# The `_execute` route's path, as Starlette matches `{id}` (a str convertor: `[^/]+`).
_EXECUTE_PATH = re.compile(r"/api/actions/connector/([^/]+)/_execute")


class ExecuteFastPath:
    """Answers a well-formed `POST /api/actions/connector/{id}/_execute` directly.

    Runs after AuthMiddleware (the caller is authenticated and the kbn-xsrf header checked). It
    reads the body and, when it is a JSON object `{"params": {...}}` sent as JSON, calls the same
    `execute_response` the FastAPI route calls, rendering errors with the same `response_for`.
    Anything else (another route, an odd body or content type, a service not yet open, a mounted
    app) goes to FastAPI with the body replayed, so every refusal keeps its exact text.
    """

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        match = _EXECUTE_PATH.fullmatch(scope["path"])
        who = scope.get("state", {}).get("principal")
        svc = getattr(self.api.state, "service", None)
        if match is None or not isinstance(who, Principal) or svc is None or not _json_content(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body
            return
        params = _params_of(body)
        if params is None:
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            response = await execute_response(svc, match.group(1), params, who, receive)
        except Exception as exc:
            response = response_for(exc)  # the app's exception handlers render the same way
        await response(scope, receive, send)


def _json_content(scope: Scope) -> bool:
    """No content type, or application/json (what FastAPI would parse as JSON; others fall back)."""
    for key, value in scope["headers"]:
        if key == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return True


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _params_of(body: bytes) -> dict[str, Any] | None:
    """`params` of a body ExecuteRequest accepts as it is (exactly one key, an object), else None."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if type(doc) is not dict or len(doc) != 1 or type(doc.get("params")) is not dict:
        return None
    params: dict[str, Any] = doc["params"]
    return params


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands out the already-read body first, then the real one."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "apiKeyAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`ApiKey <key>`; keys map to the `all` or `read` privilege.",
        }
    }
    schema["security"] = [{"apiKeyAuth": []}]
    add_openai_routes(schema, app.state.service)  # answered below FastAPI's routing (OpenAIRoutes)
    app.openapi_schema = schema
    return schema


def create_app(
    service: ConnectorService | None = None,
    settings: HostSettings | None = None,
    *,
    registry: ProviderRegistry | None = None,
    api_keys: Mapping[str, str] | None = None,
) -> FastAPI:
    """The HTTP API app.

    `service`: a ConnectorService the caller opened and will close. Without one, the app opens
    `ConnectorService.open(settings, registry=registry)` on startup. `api_keys` (key -> `all` |
    `read`) overrides `settings.api_keys`; with no key at all every protected route answers 401.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = None
        if app.state.service is None:
            from ai_connector.host.service import ConnectorService

            owned = await ConnectorService.open(settings, registry=registry)
            app.state.service = owned
            app.state.max_payload_bytes = owned.settings.max_payload_bytes
            if app.state.auth is None:
                app.state.auth = ApiKeyAuth(api_keys if api_keys is not None else owned.settings.api_keys)
        try:
            yield
        finally:
            if owned is not None:
                app.state.service = None
                await owned.aclose()

    app = FastAPI(
        title="ai-connector",
        version=ai_connector.__version__,
        description=(
            "Kibana's AI Connector (`.inference`) connector API: saved connections to LLM services, "
            "Save & test, execute (streaming as server-sent events), and Elasticsearch's "
            "`_inference/_services` descriptors. Authenticate with `Authorization: ApiKey <key>`; "
            "mutating calls need a `kbn-xsrf` header."
        ),
        openapi_url="/api/openapi.json",
        docs_url=None,  # the page module serves Swagger UI from bundled assets (offline)
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    source = settings if settings is not None else getattr(service, "settings", None)
    keys = api_keys if api_keys is not None else getattr(source, "api_keys", None)
    app.state.auth = ApiKeyAuth(keys) if keys is not None else None
    app.state.max_payload_bytes = getattr(source, "max_payload_bytes", DEFAULT_MAX_PAYLOAD_BYTES)
    install_error_handlers(app)
    install_page(app)
    app.include_router(router)
    app.include_router(execlog_router)
    app.add_middleware(OpenAIRoutes, api=app)  # OpenAI's API under `openai_api_prefix` (/v1)
    app.add_middleware(ExecuteFastPath, api=app)
    app.add_middleware(BodyGuard, max_bytes=lambda: app.state.max_payload_bytes)
    app.add_middleware(AuthMiddleware, api=app)
    app.add_middleware(SecurityHeaders)  # added last: runs first, so every answer carries them
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
