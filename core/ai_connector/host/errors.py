"""The host's refusals, each carrying the HTTP status the API answers with and Kibana's text.

`error_body` is Kibana's error body (`{"statusCode", "error", "message"}`) for these and for the
API's own refusals; `HostError.to_dict()` renders it, so the API layer maps any of these with one
handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from ai_connector.errors import AIConnectorError, ConfigValidationError, FieldError

__all__ = [
    "BadRequestError",
    "ConflictError",
    "DecryptionError",
    "ForbiddenError",
    "HostError",
    "MissingSecretsError",
    "NotFoundError",
    "ParamsError",
    "RequestValidationError",
    "SettingsError",
    "StorageFullError",
    "StorageReadOnlyError",
    "UnknownSubActionError",
    "error_body",
    "field_text",
]


def error_body(status_code: int, message: str, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Kibana's (hapi Boom) error response body; `attributes` only when there are any."""
    body: dict[str, Any] = {
        "statusCode": status_code,
        "error": HTTPStatus(status_code).phrase,
        "message": message,
    }
    if attributes:
        body["attributes"] = attributes
    return body


class HostError(AIConnectorError):
    """Base of the host's errors: `status_code` for the API, `message` for people."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """Kibana's (hapi Boom) error body."""
        return error_body(self.status_code, self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


def field_text(errors: Sequence[FieldError]) -> str:
    """Kibana's `[path]: reason; ...` for a list of field errors."""
    return "; ".join(f"[{e.path}]: {e.message}" if e.path else e.message for e in errors)


class BadRequestError(HostError):
    """400: the request cannot be carried out as sent; `errors` lists every field problem found."""

    status_code = 400

    def __init__(self, message: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(message)
        self.errors: tuple[FieldError, ...] = tuple(errors)

    @classmethod
    def for_connector(cls, exc: ConfigValidationError) -> BadRequestError:
        """Kibana's 400 (validate_with_schema.ts): `error validating connector type config|secrets:
        [path]: reason; ...`."""
        secrets_only = exc.errors and all(e.path.startswith("secrets") for e in exc.errors)
        where = "secrets" if secrets_only else "config"
        return cls(f"error validating connector type {where}: {field_text(exc.errors)}", exc.errors)


class ForbiddenError(HostError):
    """403: the license, `enabled_connector_types` or the caller's privilege refuses the operation.

    `reason` is Kibana's ActionTypeDisabledError reason (`config`, `license_unavailable`,
    `license_expired`, `license_invalid`) or `privilege`.
    """

    status_code = 403

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class NotFoundError(HostError):
    """404: no connector with this id (Kibana's saved-object text)."""

    status_code = 404

    @classmethod
    def connector(cls, connector_id: str) -> NotFoundError:
        """Kibana's `Saved object [action/{id}] not found`."""
        return cls(f"Saved object [action/{connector_id}] not found")


class ConflictError(HostError):
    """409: the id is taken, or the connector changed since it was read (optimistic version check)."""

    status_code = 409

    @classmethod
    def connector(cls, connector_id: str) -> ConflictError:
        """Kibana's `Saved object [action/{id}] conflict`."""
        return cls(f"Saved object [action/{connector_id}] conflict")


class DecryptionError(HostError):
    """500, typed: a connector's stored secrets cannot be decrypted with any configured key.

    Never a crash and never an empty secret used as if valid: the message says what to do (add the
    previous key to `AI_CONNECTOR_DECRYPTION_ONLY_KEYS`, or re-enter the secrets).
    """

    status_code = 500

    def __init__(self, message: str, *, connector_id: str | None = None, key_id: str | None = None) -> None:
        super().__init__(message)
        self.connector_id = connector_id
        self.key_id = key_id


class SettingsError(HostError):
    """The host's configuration (environment or `ai-connector.toml`) is unusable; raised at startup."""

    status_code = 500


class MissingSecretsError(BadRequestError):
    """400: a saved connector has no usable secrets (`is_missing_secrets`); it must be updated first."""

    @classmethod
    def connector(cls, connector_id: str) -> MissingSecretsError:
        """The actionable message for one connector."""
        return cls(
            f"Connector [id={connector_id}] is missing its secrets (is_missing_secrets): update the "
            "connector and provide its secrets again."
        )


class ParamsError(BadRequestError):
    """400: an `_execute` call's params are invalid (`error validating action params: ...`).

    Typed so that the one place turning execute errors into Kibana's bodies knows it without
    reading the message (Kibana answers these without a `service_message`).
    """

    @classmethod
    def from_validation(cls, exc: ConfigValidationError) -> ParamsError:
        """Kibana's text for params that failed their sub-action's schema."""
        return cls(f"error validating action params: {field_text(exc.errors)}", exc.errors)


class RequestValidationError(ParamsError):
    """The sub-action's own params schema refused the params: Kibana's sub-action framework throws
    `Request validation failed (...)` as the user's error (sub_action_framework/executor.ts)."""

    @classmethod
    def from_validation(cls, exc: ConfigValidationError) -> RequestValidationError:
        """Kibana's text for sub-action params that failed their schema."""
        return cls(f"Request validation failed (Error: {field_text(exc.errors)})", exc.errors)


class UnknownSubActionError(BadRequestError):
    """An `_execute` sub-action `.inference` does not register (Kibana: a retryable framework error)."""


class StorageFullError(HostError):
    """507: the data volume (or the database) has no space left; writes are refused, reads still served."""

    status_code = 507


class StorageReadOnlyError(HostError):
    """503: the store became read-only under a running host; writes are refused, reads still served."""

    status_code = 503
