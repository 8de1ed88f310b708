"""Kibana's connector routes (`/api/actions/...`), the `_test` route, and Elasticsearch's
`_inference/_services` descriptors, each a thin shell over the ConnectorService."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from ai_connector.api.auth import Principal, unauthorized_message
from ai_connector.api.errors import ApiError, status_of
from ai_connector.api.models import (
    ConnectorListItem,
    ConnectorResponse,
    ConnectorTypeResponse,
    CreateConnectorRequest,
    ErrorResponse,
    ExecuteRequest,
    ExecuteResponse,
    ServiceDescriptor,
    TestResponse,
    UpdateConnectorRequest,
)
from ai_connector.host.execlog import EXECUTION_SOURCE
from ai_connector.host.responses import execute_failure, stream_error_event
from ai_connector.runtime.subactions import SUB_ACTIONS

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService

__all__ = ["execute_body", "execute_response", "router"]

log = logging.getLogger("ai_connector.api")
T = TypeVar("T")

HTTP_REQUEST = "http_request"  # Kibana's ActionExecutionSourceType.HTTP_REQUEST, lower-cased

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "Bad Request: validation failed, missing kbn-xsrf header, preconfigured connector"),
        (401, "Unauthorized: missing or wrong API key"),
        (403, "Forbidden: privilege, license or connector type not enabled"),
    )
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "Not Found"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorResponse, "description": "Conflict"}}

router = APIRouter()


# ---------------------------------------------------------------------------------------------
# Dependencies


def service(request: Request) -> ConnectorService:
    """The app's ConnectorService."""
    svc = request.app.state.service
    if svc is None:
        raise ApiError(503, "the connector service is not ready")
    return svc  # type: ignore[no-any-return]


async def principal(request: Request) -> Principal:
    """The caller, authenticated by the middleware (async: a sync dependency costs a thread hop)."""
    who = request.scope.get("state", {}).get("principal")
    if not isinstance(who, Principal):  # a route mounted outside the protected prefixes
        raise ApiError(401, f"missing authentication credentials for REST request [{request.url.path}]")
    return who


# operation -> the audit action a denial is recorded under
_AUDIT_ACTIONS = {"create": "connector_create", "update": "connector_update", "delete": "connector_delete"}


def _audit_denied(svc: Any, who: Principal, operation: str, connector_id: str | None, message: str) -> None:
    """Kibana writes the failure audit event before it throws the 403."""
    from ai_connector.host.errors import ForbiddenError

    audit = getattr(svc, "audit", None)
    if audit is None:
        return
    audit.log(
        _AUDIT_ACTIONS.get(operation, "connector_" + operation),
        connector_id=connector_id,
        error=ForbiddenError(message, reason="privilege"),
        user=who.id,
    )


def writer(operation: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only `all` keys through; `read` gets Kibana's 403 for `operation`."""

    async def dependency(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.can_write:
            message = unauthorized_message(operation)
            _audit_denied(service(request), who, operation, request.path_params.get("id"), message)
            raise ApiError(403, message)
        return who

    return dependency


Caller = Annotated[Principal, Depends(principal)]
Creator = Annotated[Principal, Depends(writer("create"))]
Updater = Annotated[Principal, Depends(writer("update"))]
Deleter = Annotated[Principal, Depends(writer("delete"))]

# ---------------------------------------------------------------------------------------------
# Client disconnects


class ClientDisconnected(Exception):
    """The HTTP client went away while we waited for the provider."""


async def _wait_for_disconnect(receive: Receive) -> None:
    # The body has been read; the next message the server hands us is the disconnect.
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(receive: Receive, awaitable: Awaitable[T]) -> T:
    """Await `awaitable`, cancelling it if the client disconnects first (Kibana's execute route
    passes the request's abort signal to the connector the same way). `receive` is the request's
    ASGI receive channel, its body already read.

    `awaitable` runs in a task of its own: each time it resumes after waiting on the provider,
    only its own frames are re-entered, not the server's and every layer's above this call (run
    in the caller's task, a non-streamed `_execute` cost ~75 µs more CPU per request on uvicorn).
    """
    task = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    watcher.add_done_callback(lambda w: w.cancelled() or task.cancel())
    try:
        return await task  # (cancelling the caller cancels `task` too)
    except asyncio.CancelledError:
        caller = asyncio.current_task()
        left = watcher.done() and not watcher.cancelled()  # the watcher cancelled it: the client left
        if left and (caller is None or not caller.cancelling()):
            raise ClientDisconnected() from None
        raise
    finally:
        watcher.cancel()  # no need to wait for it: a cancelled task left alone says nothing
        if not task.done():
            task.cancel()


def _is_http_error(exc: BaseException) -> bool:
    """An unknown connector (404) and the license/enabled gates (403) are HTTP errors, as for a
    non-streamed `_execute`; every other failure is the connector's, reported with HTTP 200."""
    from ai_connector.host.errors import ForbiddenError, NotFoundError

    return isinstance(exc, NotFoundError | ForbiddenError)


_DONE = b"data: [DONE]\n\n"


def _sse(data: Any) -> bytes:
    # pydantic's serializer (already loaded for the models): a quarter of the json module's time
    # per chunk; non-ASCII text is written as UTF-8, as Kibana's JSON.stringify writes it.
    return b"data: " + to_json(data) + b"\n\n"


# ---------------------------------------------------------------------------------------------
# Connector types and services


@router.get(
    "/api/actions/connector_types",
    response_model=list[ConnectorTypeResponse],
    response_model_exclude_unset=True,
    tags=["connector types"],
    summary="List connector types",
    responses={401: ERRORS[401]},
)
async def get_connector_types(
    request: Request,
    _who: Caller,
    feature_id: Annotated[str | None, Query(description="Only types that support this feature.")] = None,
) -> list[dict[str, Any]]:
    """Kibana's connector types with license and config enablement (no privilege needed)."""
    # Kibana's v1 response schema: `source` says where the type is defined (`.inference`: the stack).
    types = [{**t, "source": t.get("source", "stack")} for t in service(request).connector_types()]
    if feature_id is not None:
        types = [t for t in types if feature_id in t.get("supported_feature_ids", [])]
    return types


@router.get(
    "/internal/_inference/_services",
    response_model=list[ServiceDescriptor],
    tags=["inference"],
    summary="Elasticsearch `_inference/_services` descriptors",
    responses={401: ERRORS[401]},
)
async def get_services(request: Request, _who: Caller) -> list[dict[str, Any]]:
    """Every loaded provider as an Elasticsearch service descriptor (what the Kibana form renders)."""
    from ai_connector.descriptor import service_descriptor

    providers = sorted(service(request).registry, key=lambda p: p.id)
    return [service_descriptor(p) for p in providers]


# ---------------------------------------------------------------------------------------------
# Connectors


def _with_auth_mode(connector: dict[str, Any]) -> dict[str, Any]:
    """Kibana's route transform adds `auth_mode` (its connectors' credentials are shared by every
    user: `shared`) after the other fields (transform_connector_response/v1.ts)."""
    return connector if "auth_mode" in connector else {**connector, "auth_mode": "shared"}


@router.get(
    "/api/actions/connectors",
    response_model=list[ConnectorListItem],
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Get all connectors",
    responses={401: ERRORS[401], 403: ERRORS[403]},
)
async def list_connectors(request: Request, who: Caller) -> list[dict[str, Any]]:
    """Saved and preconfigured connectors (preconfigured ones without config unless exposed)."""
    return [_with_auth_mode(c) for c in await service(request).list_all(user=who.id)]


@router.post(
    "/api/actions/connector/_test",
    response_model=TestResponse,
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Test an unsaved connector",
    responses={**ERRORS},
)
async def test_unsaved_connector(request: Request, body: CreateConnectorRequest, who: Creator) -> Any:
    """Run the provider's test routine on a connector that is not saved (needs `all`: the caller
    chooses the URL the host will call)."""
    source = EXECUTION_SOURCE.set(HTTP_REQUEST)
    try:
        result = await until_disconnect(
            request.receive, service(request).test(body=body.model_dump(), user=who.id)
        )
    except ClientDisconnected:
        return Response(status_code=499)
    finally:
        EXECUTION_SOURCE.reset(source)
    return result.to_dict()


@router.post(
    "/api/actions/connector",
    response_model=ConnectorResponse,
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Create a connector",
    responses={**ERRORS, **CONFLICT},
)
async def create_connector(request: Request, body: CreateConnectorRequest, who: Creator) -> dict[str, Any]:
    """Validate, check the host's rules, encrypt the secrets and save (never returns secrets)."""
    return _with_auth_mode(await service(request).create(body.model_dump(), user=who.id))


@router.post(
    "/api/actions/connector/{id}",
    response_model=ConnectorResponse,
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Create a connector with a chosen id",
    responses={**ERRORS, **CONFLICT},
)
async def create_connector_with_id(
    id: str, request: Request, body: CreateConnectorRequest, who: Creator
) -> dict[str, Any]:
    """As `POST /api/actions/connector`, with the id given in the path (409 when it exists)."""
    return _with_auth_mode(await service(request).create(body.model_dump(), connector_id=id, user=who.id))


@router.get(
    "/api/actions/connector/{id}",
    response_model=ConnectorResponse,
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Get a connector",
    responses={**ERRORS, **NOT_FOUND},
)
async def get_connector(id: str, request: Request, who: Caller) -> dict[str, Any]:
    """One connector, without its secrets."""
    return _with_auth_mode(await service(request).get(id, user=who.id))


@router.put(
    "/api/actions/connector/{id}",
    response_model=ConnectorResponse,
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Update a connector",
    responses={**ERRORS, **NOT_FOUND, **CONFLICT},
)
async def update_connector(
    id: str, request: Request, body: UpdateConnectorRequest, who: Updater
) -> dict[str, Any]:
    """Replace name and config; the provider and task type are fixed and secrets must be resent."""
    return _with_auth_mode(await service(request).update(id, body.model_dump(), user=who.id))


@router.delete(
    "/api/actions/connector/{id}",
    status_code=204,
    response_class=Response,
    tags=["connectors"],
    summary="Delete a connector",
    responses={**ERRORS, **NOT_FOUND},
)
async def delete_connector(id: str, request: Request, who: Deleter) -> Response:
    """Delete for good ("When you delete a connector, it cannot be recovered.")."""
    await service(request).delete(id, user=who.id)
    return Response(status_code=204)


@router.post(
    "/api/actions/connector/{id}/_test",
    response_model=TestResponse,
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Test a saved connector",
    responses={**ERRORS, **NOT_FOUND},
)
async def test_connector(id: str, request: Request, who: Caller) -> Any:
    """Run the provider's test routine (Kibana's default inputs) with the host's timeout."""
    source = EXECUTION_SOURCE.set(HTTP_REQUEST)
    try:
        result = await until_disconnect(request.receive, service(request).test(id, user=who.id))
    except ClientDisconnected:
        return Response(status_code=499)
    finally:
        EXECUTION_SOURCE.reset(source)
    return {"connector_id": id, **result.to_dict()}


@router.post(
    "/api/actions/connector/{id}/_execute",
    response_model=ExecuteResponse,
    response_model_exclude_unset=True,
    tags=["connectors"],
    summary="Run a connector",
    responses={
        **ERRORS,
        **NOT_FOUND,
        200: {
            "description": "The result; a connector-level failure is also a 200 with status "
            '"error". `unified_completion_stream` answers as server-sent events.',
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def execute_connector(id: str, request: Request, body: ExecuteRequest, who: Caller) -> Response:
    """Kibana's `_execute`: `{params: {subAction, subActionParams}}`. A client disconnect cancels
    the provider call. (`serve` answers a well-formed call without this route's machinery: see
    `ai_connector.api.app.ExecuteFastPath`; this route documents it and answers the others.)"""
    return await execute_response(service(request), id, body.params, who, request.receive)


# ExecuteResponse's fields, in its order: nothing else leaves `_execute` (a secret!), even if a
# layer below put it in the answer.
_EXECUTE_FIELDS = tuple(ExecuteResponse.model_fields)


def execute_body(out: Mapping[str, Any]) -> Response:
    """A non-streamed `_execute` answer as JSON bytes, shaped as ExecuteResponse without running
    its validation (the service builds exactly Kibana's body; this only filters the keys)."""
    shaped = {k: out[k] for k in _EXECUTE_FIELDS if k in out}
    try:
        content = json.dumps(shaped, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):  # a value plain JSON cannot spell: pydantic's encoding
        content = ExecuteResponse.model_validate(shaped).model_dump_json(exclude_unset=True)
    return Response(content.encode("utf-8"), media_type="application/json")


async def execute_response(
    svc: ConnectorService, connector_id: str, params: Mapping[str, Any], who: Principal, receive: Receive
) -> Response:
    """The `_execute` response for a validated body: JSON, or server-sent events for a stream.

    Raises the host's HTTP errors (404, 403) for the caller's error handling to render.
    """
    sub_action = params.get("subAction")
    sub_params = params.get("subActionParams")
    spec = SUB_ACTIONS.get(sub_action) if isinstance(sub_action, str) else None
    source = EXECUTION_SOURCE.set(HTTP_REQUEST)  # the execution log's `source`, as Kibana's routes set it
    try:
        if spec is not None and spec.streaming:
            return await _execute_stream(receive, svc, connector_id, sub_params, who)
        try:
            out = await until_disconnect(
                receive, svc.execute(connector_id, sub_action, sub_params, user=who.id)
            )
        except ClientDisconnected:
            return Response(status_code=499)
        return execute_body(out)
    finally:
        EXECUTION_SOURCE.reset(source)


async def _execute_stream(
    receive: Receive, svc: ConnectorService, connector_id: str, params: Any, who: Principal
) -> Response:
    stream = svc.stream(connector_id, params, user=who.id)
    iterator = stream.__aiter__()
    try:
        first: dict[str, Any] | None = await until_disconnect(receive, iterator.__anext__())
    except StopAsyncIteration:
        first = None
    except ClientDisconnected:
        return Response(status_code=499)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await iterator.aclose()  # type: ignore[attr-defined]
        if _is_http_error(exc) or status_of(exc) is None:
            raise
        # failed before the first chunk: the same 200 + status "error" body as a non-streamed run
        return JSONResponse(execute_failure(connector_id, exc)[0])
    return KibanaEventStream(first, iterator)


class EventStreamResponse(StreamingResponse):
    """Server-sent events, stopped (and the upstream call closed) when the client disconnects.

    Starlette's StreamingResponse watches for the disconnect through an anyio task group on
    servers older than ASGI 2.4 (uvicorn's h11 says 2.3); one watcher task does the same job.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await until_disconnect(receive, self.stream_response(send))
        except (ClientDisconnected, OSError):  # OSError: an ASGI 2.4 server's closed connection
            return
        if self.background is not None:
            await self.background()


_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class KibanaEventStream(EventStreamResponse):
    """`_execute`'s stream: each Kibana chunk as `data: <json>`, then `data: [DONE]`; a failure after
    the first chunk (the status is sent) as one error event in its place. Each chunk is sent as it
    comes, with no generator between the service's iterator and the server."""

    def __init__(self, first: dict[str, Any] | None, rest: AsyncIterator[dict[str, Any]]) -> None:
        # stream_response below reads `rest` itself: Starlette only keeps it as the body iterator
        super().__init__(cast(Any, rest), media_type="text/event-stream", headers=_STREAM_HEADERS)
        self.first = first
        self.rest = rest

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        tail = _DONE
        sending = False  # a failing send is the connection's, not the stream's: it is not reported
        try:
            if self.first is not None:
                body = _sse(self.first)
                sending = True
                await send({"type": "http.response.body", "body": body, "more_body": True})
                sending = False
                async for chunk in self.rest:
                    body = _sse(chunk)
                    sending = True
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    sending = False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if sending:
                raise
            tail = _sse(stream_error_event(exc))
        finally:
            aclose = getattr(self.rest, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        await send({"type": "http.response.body", "body": tail, "more_body": False})
