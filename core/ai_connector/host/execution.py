"""Running connectors: `_execute` and `unified_completion_stream`, with their audit lines.

A saved connector runs from its ready-to-run state (`host.ready`), a preconfigured one from the
settings file. The license and `enabled_connector_types` gates and the allowedHosts check run on
every call. A connector-level failure of `execute` is not an exception but Kibana's
`status: "error"` body (built in `host.responses`); only an unknown connector (404) and the gates
(403) raise.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ai_connector.errors import ConfigValidationError, UnsupportedTaskError
from ai_connector.host.audit import AuditLog
from ai_connector.host.errors import BadRequestError, HostError, ParamsError, UnknownSubActionError
from ai_connector.host.license import CONNECTOR_TYPE_ID
from ai_connector.host.preconfigured import PreconfiguredConnector
from ai_connector.host.ready import ReadyStates
from ai_connector.host.resolve import Resolver, redactor
from ai_connector.host.responses import execute_failure, execute_ok
from ai_connector.redaction import Redactor
from ai_connector.runtime.subactions import SUB_ACTIONS
from ai_connector.validation import ValidatedConnector

if TYPE_CHECKING:
    from ai_connector.host.settings import HostSettings
    from ai_connector.runtime import Runtime

__all__ = ["Executor"]

log = logging.getLogger("ai_connector.host")

_ACTION = "connector_execute"
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
        with self.audit.failures(_ACTION, connector_id=connector_id, user=user, defer=True):
            name, runnable, redact = await self.runnable(connector_id)
        try:
            data = await self._run(connector_id, name, runnable, sub_action, params)
        except Exception as exc:
            outcome, code = execute_failure(connector_id, exc, redact)
            self.audit.log(
                _ACTION,
                connector_id=connector_id,
                user=user,
                error_code=code,
                error_message=outcome.get("service_message") or outcome["message"],
                redact=redact,
                defer=True,
            )
            return outcome
        self.audit.log(_ACTION, connector_id=connector_id, user=user, defer=True)
        return execute_ok(connector_id, data)

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
            raise UnknownSubActionError(
                f'Sub action "{sub_action}" is not registered. Connector id: {connector_id}. '
                f"Connector name: {name}. Connector type: {CONNECTOR_TYPE_ID}"
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
        with self.audit.failures(_ACTION, connector_id=connector_id, user=user, defer=True) as scope:
            _name, runnable, redact = await self.runnable(connector_id)
            if isinstance(runnable, HostError):
                raise runnable.with_traceback(None)  # kept with the state: no traceback piles up
            scope.redact = redact
            self.resolver.check_hosts(runnable)
            if params is not None and not isinstance(params, Mapping):
                raise ParamsError(_PARAMS_NOT_AN_OBJECT)
            chunks = self.runtime.stream(runnable, dict(params or {}), timeout=self.settings.request_timeout)
            try:
                first = await anext(chunks, None)
            except ConfigValidationError as exc:
                raise ParamsError.from_validation(exc) from None
            except UnsupportedTaskError as exc:
                raise BadRequestError(str(exc)) from None
        with self.audit.failures(_ACTION, connector_id=connector_id, user=user, redact=redact, defer=True):
            try:
                if first is not None:
                    yield first
                    async for chunk in chunks:
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
                raise
            finally:
                await _aclose(chunks)  # a no-op once the stream has ended
        self.audit.log(_ACTION, connector_id=connector_id, user=user, defer=True)


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # closing after a failure must not hide the failure
            log.debug("closing an upstream stream failed", exc_info=True)
