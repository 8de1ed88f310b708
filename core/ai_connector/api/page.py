"""The web page `serve` shows at `/`, its static files, the offline API docs at `/api/docs`, and the
few internal routes only the page needs (who am I, the last test of each connector, an edit that
keeps the stored secrets).

The page is plain HTML, CSS and ES modules under `static/` (no build step, no CDN, no inline script
or style, so a `default-src 'self'` Content-Security-Policy holds). Swagger UI's assets come from
the `fastapi-offline` distribution, which bundles them, so the docs render with no internet.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from ai_connector.api.auth import Principal
from ai_connector.api.routes import principal, service, writer

__all__ = ["KEY_FILE_STATE", "install_page", "router"]

STATIC_DIR = Path(__file__).parent / "static"
# `app.state` attribute `serve` sets to the generated key file's path, so the sign-in can say where it is.
KEY_FILE_STATE = "api_key_file"
_KEY_FILE_META = '<meta name="ai-connector-key-file" content="">'

router = APIRouter(include_in_schema=False)
Caller = Annotated[Principal, Depends(principal)]
Updater = Annotated[Principal, Depends(writer("update"))]


@router.get("/")
async def index(request: Request) -> HTMLResponse:
    """The Connectors page; the key file's path (when `serve` generated the key) rides in a meta tag."""
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    key_file = getattr(request.app.state, KEY_FILE_STATE, None)
    if key_file:
        page = page.replace(
            _KEY_FILE_META, f'<meta name="ai-connector-key-file" content="{html.escape(str(key_file))}">'
        )
    return HTMLResponse(page)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """Browsers ask for this path whatever the page links; answer with the page's icon."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@router.get("/api/docs")
async def api_docs() -> FileResponse:
    """Swagger UI on `/api/openapi.json`, from bundled assets (works offline)."""
    return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")


@router.get("/internal/ai_connector/_whoami")
async def whoami(who: Caller) -> dict[str, Any]:
    """The caller's privilege, so the page offers only what the key may do (never the key)."""
    return {"id": who.id, "privilege": who.privilege, "can_write": who.can_write}


@router.get("/internal/ai_connector/connectors/_last_tests")
async def last_tests(request: Request, who: Caller) -> dict[str, Any]:
    """`{connector id: last test result or null}` for the list's "Last test" column."""
    svc = service(request)
    out: dict[str, Any] = {}
    for connector in await svc.list(user=who.id):
        if connector.get("is_preconfigured"):
            out[connector["id"]] = None
            continue
        out[connector["id"]] = (await svc.details(connector["id"])).get("last_test")
    return out


@router.put("/internal/ai_connector/connector/{id}")
async def update_keeping_secrets(
    id: str, request: Request, who: Updater, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Kibana's PUT, except that a body without secrets keeps the stored ones (the page's edit
    asks for secrets only when the user chooses to change them)."""
    return await service(request).update(id, body, user=who.id, keep_secrets=True)


def _swagger_assets() -> Path:
    return Path(str(resources.files("fastapi_offline") / "static"))


def install_page(app: FastAPI) -> None:
    """Add the page's routes and static files to `app` (before the API router: `/` is the page's)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="page-static")
    app.mount("/api/docs/assets", StaticFiles(directory=_swagger_assets()), name="docs-assets")
