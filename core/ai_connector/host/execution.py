"""Running connectors: `_execute` and `unified_completion_stream`, with their audit lines.

A saved connector runs from its ready-to-run state (`host.ready`), a preconfigured one from the
settings file. The license and `enabled_connector_types` gates and the allowedHosts check run on
every call. A connector-level failure of `execute` is not an exception but Kibana's
`status: "error"` body (built in `host.responses`); only an unknown connector (404) and the gates
(403) raise.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ai_connector.errors import ConfigValidationError, ProviderError, UnsupportedTaskError
from ai_connector.host.audit import AuditLog
from ai_connector.host.errors import (
    BadRequestError,
    HostError,
    ParamsError,
    RequestValidationError,
    UnknownSubActionError,
)
from ai_connector.host.execlog import ExecutionLog, execute_record
from ai_connector.host.license import CONNECTOR_TYPE_ID
from ai_connector.host.preconfigured import PreconfiguredConnector
from ai_connector.host.ready import ReadyStates
from ai_connector.host.resolve import Resolver, redactor
from ai_connector.host.responses import CONNECTOR_TYPE_NAME, execute_failure, execute_ok
from ai_connector.redaction import Redactor
from ai_connector.runtime.subactions import SUB_ACTIONS
from ai_connector.validation import ValidatedConnector

if TYPE_CHECKING:
    from ai_connector.host.settings import HostSettings
    from ai_connector.runtime import Runtime

__all__ = ["Executor"]

log = logging.getLogger("ai_connector.host")

_ACTION = "connector_execute"
_STREAM = "unified_completion_stream"
_PARAMS_NOT_AN_OBJECT = "error validating action params: [subActionParams]: expected an object"


class Executor:
    """Runs saved and preconfigured connectors for one service."""

    def __init__(
        self,
        *,
        settings: HostSettings,
        runtime: Runtime,
        resolver: Resolver,
        ready: ReadyStates,
        preconfigured: Mapping[str, PreconfiguredConnector],
        audit: AuditLog,
        gate: Callable[[str | None], None],
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.resolver = resolver
        self.ready = ready
        self.preconfigured = preconfigured
        self.audit = audit
        self.gate = gate
        self.execlog: ExecutionLog | None = None  # Kibana's event log (host.execlog); None: off
        self._preconfigured_redactors = {cid: redactor(pc.connector) for cid, pc in preconfigured.items()}

    async def runnable(self, connector_id: str) -> tuple[str, ValidatedConnector | HostError, Redactor]:
        """(name, connector or the typed reason it cannot run, its redactor). NotFoundError and the
        gates raise. A saved connector comes from its ready-to-run state: no thread hop and no
        decryption while that state is fresh."""
        pc = self.preconfigured.get(connector_id)
        if pc is not None:
            self.gate(pc.connector.provider.id)
            return pc.name, pc.connector, self._preconfigured_redactors[connector_id]
        ready = await self.ready.get(connector_id)
        self.gate(ready.provider_id)
        return ready.name, ready.runnable, ready.redact

    async def execute(
        self, connector_id: str, sub_action: Any, params: Any, *, user: str | None
    ) -> dict[str, Any]:
        """Kibana's `_execute` body for one run (see ConnectorService.execute)."""
        started = time.time_ns()
        record = functools.partial(
            self._record, connector_id, sub_action=sub_action, params=params, user=user
        )
        with self.audit.failures(_ACTION, connector_id=connector_id, user=user, defer=True):
            name, runnable, redact = await self.runnable(connector_id)
        try:
            data = await self._run(connector_id, name, runnable, sub_action, params)
        except Exception as exc:
            inference_id = getattr(runnable, "inference_id", None)
            failure, code = execute_failure(connector_id, exc, redact, inference_id)
            record(name, runnable, started, failure, exc)
            self.audit.log(
                _ACTION,
                connector_id=connector_id,
                user=user,
                error_code=code,
                error_message=failure.get("service_message") or failure["message"],
                redact=redact,
                defer=True,
            )
            return failure
        self.audit.log(_ACTION, connector_id=connector_id, user=user, defer=True)
        outcome = execute_ok(connector_id, data)
        record(name, runnable, started, outcome, None)
        return outcome

    def _record(
        self,
        connector_id: str,
        name: str,
        runnable: Any,
        started: int,
        outcome: Mapping[str, Any],
        exc: BaseException | None,
        *,
        sub_action: Any,
        params: Any,
        user: str | None,
        usage: Mapping[str, Any] | None = None,
    ) -> None:
        """Add this run to the execution log (nothing when it is off)."""
        if self.execlog is None:
            return
        kind = getattr(exc, "kind", None)  # a ProviderError's FailureKind; else the error's type
        self.execlog.record(
            execute_record(
                connector_id=connector_id,
                name=name,
                connector=runnable,
                sub_action=sub_action,
                params=params,
                started_ns=started,
                outcome=outcome,
                error_kind=getattr(kind, "value", None) or (None if exc is None else type(exc).__name__),
                usage=usage,
                user=user,
            )
        )

    async def _run(
        self,
        connector_id: str,
        name: str,
        runnable: ValidatedConnector | HostError,
        sub_action: Any,
        params: Any,
    ) -> Any:
        """The sub-action's answer; every refusal raised as a typed error, in Kibana's order."""
        if not isinstance(sub_action, str):
            got = "undefined" if sub_action is None else type(sub_action).__name__
            raise ParamsError(
                "error validating action params: [subAction]: expected value of type [string] "
                f"but got [{got}]"
            )
        if sub_action not in SUB_ACTIONS:
            # Kibana names the connector *type* here (sub_action_framework/executor.ts)
            raise UnknownSubActionError(
                f'Sub action "{sub_action}" is not registered. Connector id: {connector_id}. '
                f"Connector name: {CONNECTOR_TYPE_NAME}. Connector type: {CONNECTOR_TYPE_ID}"
            )
        if isinstance(runnable, HostError):
            raise runnable.with_traceback(None)  # kept with the state: no traceback piles up
        if params is not None and not isinstance(params, Mapping):
            raise ParamsError(_PARAMS_NOT_AN_OBJECT)
        self.resolver.check_hosts(runnable)
        result = await self.runtime.execute(
            runnable, sub_action, dict(params or {}), timeout=self.settings.request_timeout
        )
        if isinstance(result, AsyncIterator):  # a streaming sub-action, asked for as one answer
            return [chunk async for chunk in result]
        return result

    async def stream(
        self, connector_id: str, params: Any, *, user: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        """`unified_completion_stream`'s chunks (see ConnectorService.stream)."""
        started, name, runnable, redact = time.time_ns(), "", None, None
        record = functools.partial(self._record, connector_id, sub_action=_STREAM, params=params, user=user)
        try:
            with self.audit.failures(_ACTION, connector_id=connector_id, user=user, defer=True) as scope:
                name, runnable, redact = await self.runnable(connector_id)
                if isinstance(runnable, HostError):
                    raise runnable.with_traceback(None)  # kept with the state: no traceback piles up
                scope.redact = redact
                self.resolver.check_hosts(runnable)
                if params is not None and not isinstance(params, Mapping):
                    raise ParamsError(_PARAMS_NOT_AN_OBJECT)
                chunks = self.runtime.stream(
                    runnable, dict(params or {}), timeout=self.settings.request_timeout
                )
                try:
                    first = await anext(chunks, None)
                except ConfigValidationError as exc:
                    raise RequestValidationError.from_validation(exc) from None
                except UnsupportedTaskError as exc:
                    raise BadRequestError(str(exc)) from None
                except ProviderError as exc:  # Kibana's upstream text names the endpoint
                    setattr(exc, "inference_id", runnable.inference_id)  # noqa: B010
                    raise
        except Exception as exc:
            if redact is not None:  # the connector was found and allowed: a run that failed
                record(name, runnable, started, execute_failure(connector_id, exc, redact)[0], exc)
            raise
        usage: Any = None
        with self.audit.failures(_ACTION, connector_id=connector_id, user=user, redact=redact, defer=True):
            try:
                if first is not None:
                    usage = first.get("usage")
                    yield first
                    async for chunk in chunks:
                        if chunk.get("usage") is not None:  # the last chunk's token counts
                            usage = chunk["usage"]
                        yield chunk
            except GeneratorExit:  # the consumer went away (client disconnect): close upstream now
                await _aclose(chunks)
                self.audit.log(
                    _ACTION,
                    connector_id=connector_id,
                    user=user,
                    error_code="StreamCancelled",
                    error_message="the client closed the stream",
                    defer=True,
                )
                cancelled = {"status": "error", "message": "the client closed the stream"}
                record(name, runnable, started, cancelled, _Cancelled(), usage=usage)
                raise
            except Exception as exc:
                outcome = execute_failure(connector_id, exc, redact, runnable.inference_id)[0]
                record(name, runnable, started, outcome, exc, usage=usage)
                raise
            finally:
                await _aclose(chunks)  # a no-op once the stream has ended
        self.audit.log(_ACTION, connector_id=connector_id, user=user, defer=True)
        record(name, runnable, started, execute_ok(connector_id, None), None, usage=usage)


class _Cancelled(Exception):
    """The error kind the execution log records for a stream its client closed."""


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # closing after a failure must not hide the failure
            log.debug("closing an upstream stream failed", exc_info=True)
