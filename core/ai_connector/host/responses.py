"""Kibana's response shapes for the connector API, and the one place an error becomes one.

Connector objects (no field ever carries a secret), the connector-type entry, and
`_execute`'s bodies: `{"status": "ok", ...}`, and for a failure the
`{"status": "error", ...}` body chosen by the exception's type (never by its message), used both
by the service's `execute` and by the HTTP route for a stream that fails before its first chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ai_connector.errors import (
    AIConnectorError,
    ConfigValidationError,
    ContextWindowExceededError,
    HostNotAllowedError,
    ProviderError,
    UnsupportedTaskError,
)
from ai_connector.host.errors import (
    BadRequestError,
    HostError,
    MissingSecretsError,
    ParamsError,
    RequestValidationError,
    UnknownSubActionError,
)
from ai_connector.host.license import (
    CONNECTOR_TYPE_ID,
    MINIMUM_LICENSE_REQUIRED,
    LicenseState,
    is_type_enabled_in_config,
)
from ai_connector.redaction import Redactor, cap

if TYPE_CHECKING:
    from ai_connector.host.preconfigured import PreconfiguredConnector
    from ai_connector.host.store import StoredConnector

__all__ = [
    "CONNECTOR_TYPE_NAME",
    "SUPPORTED_FEATURE_IDS",
    "ExecuteOutcome",
    "connector_types",
    "error_source",
    "execute_failure",
    "execute_ok",
    "listed",
    "preconfigured_response",
    "saved_response",
    "stream_error_event",
    "upstream_message",
]

log = logging.getLogger("ai_connector.host")

CONNECTOR_TYPE_NAME = "AI Connector"
SUPPORTED_FEATURE_IDS = (
    "generativeAIForSecurity",
    "generativeAIForObservability",
    "generativeAIForSearchPlayground",
)
RUNNING_ERROR = "an error occurred while running the action"  # Kibana's execute failure text
INTERNAL_ERROR_MESSAGE = "An internal server error occurred."  # Kibana's text for a 500

# GET /api/actions/connectors field order (referenced_by_count is always 0 here: no rules).
_LISTED_ORDER = (
    "id",
    "name",
    "config",
    "connector_type_id",
    "is_preconfigured",
    "is_deprecated",
    "referenced_by_count",
    "is_missing_secrets",
    "is_system_action",
    "is_connector_type_deprecated",
)


# -- connector objects ----------------------------------------------------------------------------


def saved_response(record: StoredConnector, *, missing: bool) -> dict[str, Any]:
    """Kibana's connector object for a saved connector."""
    return {
        "id": record.id,
        "name": record.name,
        "config": dict(record.config),
        "connector_type_id": CONNECTOR_TYPE_ID,
        "is_preconfigured": False,
        "is_deprecated": False,
        "is_missing_secrets": missing,
        "is_system_action": False,
        "is_connector_type_deprecated": False,
    }


def preconfigured_response(pc: PreconfiguredConnector, *, listing: bool = False) -> dict[str, Any]:
    """Kibana's object for an in-memory connector (connectorFromInMemoryConnector / getAll): no
    config unless exposeConfig, and no is_missing_secrets."""
    out: dict[str, Any] = {"id": pc.id, "name": pc.name}
    if pc.expose_config:
        out["config"] = dict(pc.connector.config)
    out["connector_type_id"] = CONNECTOR_TYPE_ID
    out["is_preconfigured"] = True
    out["is_deprecated"] = False
    if listing:
        out["referenced_by_count"] = 0
    out["is_system_action"] = False
    out["is_connector_type_deprecated"] = False
    return out


def listed(response: dict[str, Any]) -> dict[str, Any]:
    """A saved connector's object as GET /api/actions/connectors lists it."""
    response = {**response, "referenced_by_count": 0}
    return {k: response[k] for k in _LISTED_ORDER if k in response}


def connector_types(
    enabled_connector_types: list[str] | tuple[str, ...], license_state: LicenseState
) -> list[dict[str, Any]]:
    """`GET /api/actions/connector_types`: the one `.inference` type and whether it is usable."""
    in_config = is_type_enabled_in_config(enabled_connector_types)
    in_license = license_state.enabled_in_license(MINIMUM_LICENSE_REQUIRED)
    return [
        {
            "id": CONNECTOR_TYPE_ID,
            "name": CONNECTOR_TYPE_NAME,
            "enabled": in_config and in_license,
            "enabled_in_config": in_config,
            "enabled_in_license": in_license,
            "minimum_license_required": MINIMUM_LICENSE_REQUIRED,
            "supported_feature_ids": list(SUPPORTED_FEATURE_IDS),
            "is_system_action_type": False,
            "is_deprecated": False,
        }
    ]


# -- _execute bodies ------------------------------------------------------------------------------


def error_source(exc: BaseException) -> str:
    """Kibana's errorSource: `user` for 4xx and the caller's own mistakes, `framework` otherwise."""
    if isinstance(exc, ProviderError):
        return "user" if exc.status is not None and 400 <= exc.status < 500 else "framework"
    if isinstance(
        exc,
        HostNotAllowedError | ContextWindowExceededError | UnsupportedTaskError | ConfigValidationError,
    ):
        return "user"
    if isinstance(exc, MissingSecretsError | BadRequestError) and not isinstance(exc, UnknownSubActionError):
        return "user"
    return "framework"


class ExecuteOutcome(dict[str, Any]):
    """A failed `_execute`'s body: a plain dict to every reader (and in JSON) that also keeps the
    typed error it came from, for callers that map errors themselves (the OpenAI routes): Kibana's
    `retry` is true for every error thrown while running, so it cannot tell them apart."""

    __slots__ = ("error",)

    def __init__(self, body: dict[str, Any], error: BaseException) -> None:
        super().__init__(body)
        self.error = error


def execute_ok(connector_id: str, data: Any) -> dict[str, Any]:
    """`_execute`'s success body."""
    out: dict[str, Any] = {"status": "ok", "connector_id": connector_id}
    if data is not None:
        out["data"] = data
    return out


def upstream_message(exc: ProviderError, inference_id: str | None) -> str:
    """Kibana's text for a provider's HTTP error: `Inference endpoint [id] returned status code N:
    <upstream body>` (stack_connectors inference.ts); other provider errors keep their message."""
    if exc.status is None or exc.status < 400 or not inference_id:
        return exc.message
    body = exc.provider_message if exc.provider_message is not None else exc.message
    text = f"Inference endpoint [{inference_id}] returned status code {exc.status}"
    return f"{text}: {body}" if body else text


def execute_failure(
    connector_id: str,
    exc: BaseException,
    redact: Callable[[str], str] | None = None,
    inference_id: str | None = None,
) -> tuple[ExecuteOutcome, str]:
    """`_execute`'s connector-level failure body for `exc`, and the audit error code.

    As Kibana's action executor answers: params the connector type refuses are the user's, not
    retried, with no `service_message` (validateAction); every error thrown while running,
    including the sub-action framework's `Request validation failed` and an unregistered
    sub-action, is `an error occurred while running the action` with `retry: true`. The service
    message is redacted and capped at 1000 characters with `... [truncated]`; anything unexpected
    is logged. `inference_id` (else the error's own) names the endpoint in upstream HTTP errors.
    """
    original, code = exc, type(exc).__name__
    if isinstance(exc, ConfigValidationError):
        exc, code = RequestValidationError.from_validation(exc), "ValidationError"
    if isinstance(exc, ParamsError) and not isinstance(exc, RequestValidationError):
        params_body: dict[str, Any] = {
            "status": "error",
            "connector_id": connector_id,
            "message": exc.message,
        }
        return ExecuteOutcome(
            {**params_body, "retry": False, "errorSource": "user"}, original
        ), "ValidationError"
    if isinstance(exc, ProviderError):
        service_message = upstream_message(exc, inference_id or getattr(exc, "inference_id", None))
    elif isinstance(exc, HostError):
        service_message = exc.message
    elif isinstance(exc, HostNotAllowedError | UnsupportedTaskError | ContextWindowExceededError):
        service_message = str(exc)
    else:
        service_message = f"{code}: {exc}"
    service_message = cap(redact(service_message) if redact is not None else Redactor()(service_message))
    if not isinstance(exc, AIConnectorError):
        log.error("connector %s: execute failed unexpectedly: %s", connector_id, service_message)
    body: dict[str, Any] = {"status": "error", "connector_id": connector_id, "message": RUNNING_ERROR}
    body.update(service_message=service_message, retry=True, errorSource=error_source(exc))
    return ExecuteOutcome(body, original), code


def stream_error_event(exc: BaseException) -> dict[str, Any]:
    """The in-band error event of a stream that fails after its first chunk (the HTTP status is
    sent by then): the failure kind a UI can act on, the provider's status and whether to retry."""
    if isinstance(exc, ProviderError):
        kind, status, retry = exc.kind.value, exc.status, bool(exc.retryable)
    elif isinstance(exc, AIConnectorError):
        kind = exc.failure.value if isinstance(exc, HostNotAllowedError) else type(exc).__name__
        status, retry = None, False
    else:
        log.error("stream failed: %s", type(exc).__name__, exc_info=exc)
        return {"error": {"message": INTERNAL_ERROR_MESSAGE, "type": "internal"}}
    message = exc.message if isinstance(exc, ProviderError | HostError) else ""
    return {"error": {"message": message or str(exc), "type": kind, "status": status, "retry": retry}}
