"""OpenAI's routes on the host: `POST /chat/completions`, `POST /completions`, `POST /embeddings`,
`GET /models` and `GET /models/{model}` under the `openai_api_prefix` setting (default `/v1`).

One ASGI layer answers them before FastAPI's routing, as the `_execute` fast path does, so an
OpenAI call costs what `_execute` costs. `model` names a saved or preconfigured connector by id or
by `inferenceId`. Callers authenticate as OpenAI clients do (`Authorization: Bearer <host key>`);
both privileges may run connectors, as on `_execute`, and no `kbn-xsrf` is asked for. Every call
goes through the ConnectorService's public methods, so the license gate, allowed hosts, rate
limits, retries and audit are those of `_execute`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ai_connector.api.auth import Principal
from ai_connector.api.errors import ApiError
from ai_connector.api.openai.errors import (
    SERVER_ERROR,
    OpenAIError,
    bad_request,
    from_exception,
    from_outcome,
    model_not_found,
)
from ai_connector.api.openai.render import (
    ChatCompletionBuilder,
    completion_events,
    completion_response,
    embedding_response,
    model_object,
    stream_events,
)
from ai_connector.api.openai.translate import chat_params, completion_params, embedding_params, model_of
from ai_connector.api.routes import ClientDisconnected, EventStreamResponse, until_disconnect

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService

__all__ = ["DEFAULT_PREFIX", "OpenAIRoutes"]

DEFAULT_PREFIX = "/v1"
T = TypeVar("T")
_ALIASES_MAX = 1024  # inferenceId -> connector id lookups a host remembers
_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
    )


class OpenAIRoutes:
    """The ASGI layer that answers OpenAI's routes under the prefix; every other path passes on."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._aliases: dict[str, str] = {}  # inferenceId -> connector id, checked on every use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        svc: ConnectorService | None = getattr(self.api.state, "service", None)
        prefix = (
            getattr(svc.settings, "openai_api_prefix", DEFAULT_PREFIX) if svc is not None else DEFAULT_PREFIX
        )
        path: str = scope["path"]
        rest = path[len(prefix) :] if prefix and path.startswith(prefix) else None
        if rest is None or (rest and rest[0] != "/"):
            await self.app(scope, receive, send)
            return
        try:
            response = await self._answer(scope, receive, svc, rest or "/")
        except ClientDisconnected:
            response = Response(status_code=499)  # nobody reads it; the server logs the status
        except OpenAIError as exc:
            response = exc.response()
        except Exception as exc:
            response = from_exception(exc, model="").response()
        await response(scope, receive, send)

    # -- dispatch -----------------------------------------------------------------------------

    async def _answer(
        self, scope: Scope, receive: Receive, svc: ConnectorService | None, rest: str
    ) -> Response:
        who = self._authenticate(scope)
        if svc is None:
            raise OpenAIError(503, "the connector service is not ready", type=SERVER_ERROR)
        method = scope["method"]
        if method == "POST" and rest in ("/chat/completions", "/completions", "/embeddings"):
            try:
                raw = await Request(scope, receive).body()
            except ClientDisconnect:
                return Response(status_code=499)  # the client went away before sending its body
            body = _parse(raw)
            model = model_of(body)
            if rest == "/chat/completions":
                return await self._chat(svc, receive, body, model, who)
            return await self._one_shot(svc, receive, rest, body, model, who)
        if method == "GET" and rest == "/models":
            return await self._models(svc, who)
        if method == "GET" and rest.startswith("/models/") and len(rest) > len("/models/"):
            return await self._model(svc, rest[len("/models/") :], who)
        raise OpenAIError(404, f"Invalid URL ({method} {scope['path']})")

    def _authenticate(self, scope: Scope) -> Principal:
        """The caller of `Authorization: Bearer <key>` (or `ApiKey <key>`), with OpenAI's 401s."""
        auth = getattr(self.api.state, "auth", None)
        if auth is None:
            raise OpenAIError(503, "the connector service is not ready", type=SERVER_ERROR)
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
        scheme, _, token = header.strip().partition(" ")
        if not scheme:
            raise OpenAIError(401, _MISSING_KEY)
        if scheme.lower() in ("bearer", "apikey") and token.strip():
            with contextlib.suppress(ApiError):
                principal: Principal = auth.authenticate("ApiKey " + token.strip(), scope["path"])
                return principal
        raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")

    # -- model names ---------------------------------------------------------------------------

    async def _as_connector(
        self, svc: ConnectorService, model: str, who: Principal, call: Callable[[str], Awaitable[T]]
    ) -> T:
        """`call(connector id)` for `model`, a connector id or (when no connector has that id) an
        inferenceId; 404 `model_not_found` when neither names a connector."""
        from ai_connector.host.errors import NotFoundError

        cid = self._aliases.get(model, model)
        try:
            return await call(cid)
        except NotFoundError:
            self._aliases.pop(model, None)
            found = await self._by_inference_id(svc, model, who)
            if found is None or found == cid:
                raise model_not_found(model) from None
        if len(self._aliases) >= _ALIASES_MAX:
            self._aliases.clear()
        self._aliases[model] = found
        return await call(found)

    async def _by_inference_id(self, svc: ConnectorService, inference_id: str, who: Principal) -> str | None:
        for connector in await svc.list(user=who.id):
            described = _describe(svc, connector)
            if described is not None and described[2] == inference_id:
                return str(connector["id"])
        return None

    # -- routes --------------------------------------------------------------------------------

    async def _chat(
        self, svc: ConnectorService, receive: Receive, body: Mapping[str, Any], model: str, who: Principal
    ) -> Response:
        call = chat_params(body)

        async def opened(cid: str) -> tuple[dict[str, Any] | None, AsyncIterator[dict[str, Any]]]:
            if call.options:
                await _carried(svc, cid, call.options, who)
            chunks = svc.stream(cid, call.params, user=who.id).__aiter__()
            try:
                return await anext(chunks, None), chunks
            except BaseException:
                with contextlib.suppress(Exception):
                    await chunks.aclose()  # type: ignore[attr-defined]
                raise

        if call.stream:
            first, rest = await _awaited(receive, self._as_connector(svc, model, who, opened), model)
            return EventStreamResponse(
                stream_events(first, rest, call.include_usage, model),
                media_type="text/event-stream",
                headers=_STREAM_HEADERS,
            )

        async def answered(cid: str) -> dict[str, Any]:
            if call.options:
                await _carried(svc, cid, call.options, who)
            builder = ChatCompletionBuilder(model)
            chunks = svc.stream(cid, call.params, user=who.id)
            try:
                async for chunk in chunks:
                    builder.add(chunk)
            except BaseException:
                with contextlib.suppress(Exception):
                    await chunks.aclose()  # type: ignore[attr-defined]
                raise
            return builder.result()

        # one wait for the whole answer (one disconnect watcher, not one per step)
        return _json(await _awaited(receive, self._as_connector(svc, model, who, answered), model))

    async def _one_shot(
        self,
        svc: ConnectorService,
        receive: Receive,
        rest: str,
        body: Mapping[str, Any],
        model: str,
        who: Principal,
    ) -> Response:
        encoding = "float"
        stream = False
        if rest == "/embeddings":
            sub_action = "text_embedding"
            params, encoding = embedding_params(body)
        else:
            sub_action = "completion"
            params, stream = completion_params(body)

        async def run(cid: str) -> dict[str, Any]:
            return await svc.execute(cid, sub_action, params, user=who.id)

        out = await _awaited(receive, self._as_connector(svc, model, who, run), model)
        if out.get("status") != "ok":
            raise from_outcome(out)
        data = out.get("data") or []
        if sub_action == "text_embedding":
            return _json(embedding_response(data, model, encoding))
        if stream:  # answered (or refused) before the first byte, so failures keep their status
            events = completion_events(completion_response(data, model))
            return EventStreamResponse(events, media_type="text/event-stream", headers=_STREAM_HEADERS)
        return _json(completion_response(data, model))

    async def _models(self, svc: ConnectorService, who: Principal) -> Response:
        try:
            connectors = await svc.list(user=who.id)
        except Exception as exc:
            raise from_exception(exc, model="") from None
        data = []
        for connector in connectors:
            described = _describe(svc, connector)
            if described is None or connector.get("is_missing_secrets") or not _enabled(svc, described[0]):
                continue
            data.append(model_object(connector["id"], *described[:2], connector["name"], described[2]))
        return _json({"object": "list", "data": data})

    async def _model(self, svc: ConnectorService, model: str, who: Principal) -> Response:
        async def get(cid: str) -> dict[str, Any]:
            return await svc.get(cid, user=who.id)

        try:
            connector = await self._as_connector(svc, model, who, get)
        except OpenAIError:
            raise
        except Exception as exc:
            raise from_exception(exc, model=model) from None
        described = _describe(svc, connector)
        if described is None:
            raise model_not_found(model)
        return _json(model_object(connector["id"], *described[:2], connector["name"], described[2]))


async def _awaited(receive: Receive, awaitable: Awaitable[T], model: str) -> T:
    """`awaitable`'s result, cancelled when the client leaves (ClientDisconnected); the host's
    errors become OpenAI's."""
    try:
        return await until_disconnect(receive, awaitable)
    except (ClientDisconnected, OpenAIError):
        raise
    except Exception as exc:
        raise from_exception(exc, model=model) from None


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(
            "We could not parse the JSON body of your request. The API expects a JSON payload, but "
            "what was sent was not valid JSON."
        ) from None


def _describe(svc: ConnectorService, connector: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    """(provider, task type, inferenceId) of a Kibana connector object; a preconfigured connector
    whose config is not exposed is read from the host's own copy."""
    config = connector.get("config")
    if config is None:
        pc = svc.preconfigured.get(connector["id"])
        if pc is None:
            return None
        return pc.connector.provider.id, pc.connector.task_type.value, pc.connector.inference_id
    provider, task = config.get("provider"), config.get("taskType")
    if not isinstance(provider, str) or not isinstance(task, str):
        return None
    return provider, task, config.get("inferenceId")


async def _carried(svc: ConnectorService, cid: str, options: frozenset[str], who: Principal) -> None:
    """400 naming the first of `options` (`user`, `metadata`) the connector's provider does not carry
    to its service (Provider.chat_options), before any call; looked up only when a body sets one."""
    described = _describe(svc, await svc.get(cid, user=who.id))
    if described is None or described[0] not in svc.registry:
        return  # the call itself reports a connector whose provider is gone
    missing = sorted(options - svc.registry.get(described[0]).chat_options)
    if missing:
        raise bad_request(
            f"Unsupported parameter: '{missing[0]}' cannot be honoured by this connector's provider "
            f"({described[0]}): its service has no such field; leave it unset.",
            param=missing[0],
            code="unsupported_parameter",
        )


def _enabled(svc: ConnectorService, provider_id: str) -> bool:
    """Whether the license and `enabled_connector_types` let this provider's connectors run."""
    from ai_connector.host.errors import ForbiddenError
    from ai_connector.host.license import ensure_type_enabled

    try:
        ensure_type_enabled(svc.settings.enabled_connector_types, svc.license_state, provider_id)
    except ForbiddenError:
        return False
    return True
