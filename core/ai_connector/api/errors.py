"""Kibana's error bodies: `{statusCode, error, message}` (plus `attributes` when a validation error
has per-field details), and the mapping from the host's exceptions to them."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ai_connector.errors import AIConnectorError, ConfigValidationError, HostNotAllowedError
from ai_connector.host.errors import BadRequestError, error_body
from ai_connector.host.responses import INTERNAL_ERROR_MESSAGE

__all__ = ["ApiError", "error_body", "install_error_handlers", "status_of"]

log = logging.getLogger("ai_connector.api")


class ApiError(Exception):
    """A refusal decided at the HTTP edge (authentication, CSRF, privileges)."""

    def __init__(self, status_code: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers


def status_of(exc: BaseException) -> int | None:
    """The HTTP status a host exception stands for, or None when it is not one of ours.

    The host's errors (`ai_connector.host.errors.HostError`) carry `status_code`; the core's
    validation and URL-policy refusals are the caller's fault, so 400.
    """
    code = getattr(exc, "status_code", None)
    if isinstance(exc, AIConnectorError) and isinstance(code, int):
        return code
    if isinstance(exc, ConfigValidationError | HostNotAllowedError | LookupError):
        return 400
    if isinstance(exc, AIConnectorError):
        return 400
    return None


def _attributes(exc: BaseException) -> dict[str, Any] | None:
    """Per-field validation errors (path, field, label, message) so a form can mark its fields."""
    if isinstance(exc, BadRequestError) and exc.errors:
        return {"errors": [e.to_dict() for e in exc.errors]}
    source = exc if isinstance(exc, ConfigValidationError) else exc.__cause__
    if isinstance(source, ConfigValidationError):
        return {"errors": [e.to_dict() for e in source.errors]}
    return None


def _message(exc: BaseException) -> str:
    msg = getattr(exc, "message", None)
    return msg if isinstance(msg, str) and msg else str(exc)


def response_for(exc: BaseException) -> JSONResponse:
    """The JSON response for a host or API exception (500 with Kibana's generic text otherwise)."""
    if isinstance(exc, ApiError):
        return JSONResponse(error_body(exc.status_code, exc.message), exc.status_code, headers=exc.headers)
    status = status_of(exc)
    if status is None or (status >= 500 and not isinstance(exc, AIConnectorError)):
        log.error("unhandled error in the HTTP API: %s", type(exc).__name__, exc_info=exc)
        return JSONResponse(error_body(500, INTERNAL_ERROR_MESSAGE), 500)
    return JSONResponse(error_body(status, _message(exc), _attributes(exc)), status)


def _loc(loc: tuple[Any, ...]) -> str:
    where = list(loc)
    if where and where[0] == "body":
        where[0] = "request body"
    elif where and where[0] in ("path", "query", "header"):
        where[0] = f"request {where[0]}"
    return ".".join(str(p) for p in where)


def _validation_message(exc: RequestValidationError) -> str:
    """Kibana's `[request body.name]: expected value of type [string] but got [undefined]` style."""
    parts = []
    for err in exc.errors():
        loc = _loc(tuple(err.get("loc", ())))
        if err.get("type") == "missing":
            parts.append(f"[{loc}]: expected value of type [{_expected(err)}] but got [undefined]")
        elif err.get("type") == "extra_forbidden":
            parts.append(f"[{loc}]: definition for this key is missing")
        elif err.get("type") in ("string_type", "dict_type", "bool_type", "int_type"):
            want = {"string_type": "string", "dict_type": "Object", "bool_type": "boolean"}.get(
                err["type"], "number"
            )
            parts.append(f"[{loc}]: expected value of type [{want}] but got [{_js_type(err.get('input'))}]")
        elif err.get("type") == "json_invalid":
            parts.append("[request body]: " + "Invalid JSON in the request body")
        else:
            parts.append(f"[{loc}]: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def _js_type(value: Any) -> str:
    """The type name Kibana's config-schema errors use for a received value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "string"


def _expected(err: dict[str, Any]) -> str:
    field = str(err.get("loc", ("",))[-1])
    return {"config": "Object", "secrets": "Object", "params": "Object"}.get(field, "string")


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the API in Kibana's shape."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        return response_for(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(error_body(400, _validation_message(exc)), 400)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            error_body(
                exc.status_code, str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
            ),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(AIConnectorError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_api_error)
