"""Google's error body, `google.rpc.Status`, read into typed errors.

Both Gemini services answer a failed call with `{"error": {"code", "message", "status", "details": [...]}}`
where `details` holds typed entries (`google.rpc.ErrorInfo` with a `reason`, `google.rpc.RetryInfo` with a
`retryDelay`, `google.rpc.QuotaFailure`...). Google sends no Retry-After header: its retry hint is
`RetryInfo.retryDelay`, a protobuf Duration such as `"59s"`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai_connector.plugin import (
    AuthenticationError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
    current_provider,
    error_for_status,
)

__all__ = ["GoogleStatus", "google_error", "parse_duration", "parse_google_status", "stream_error"]

_TYPE_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_TYPE_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_TYPE_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"

# ErrorInfo reasons that mean "fix the credentials", whatever HTTP status carried them (AI Studio
# answers a bad key with 400 INVALID_ARGUMENT / API_KEY_INVALID, wire.md section 5).
_CREDENTIAL_REASONS = frozenset(
    {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "CREDENTIALS_MISSING", "ACCESS_TOKEN_EXPIRED"}
)
_CREDENTIAL_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
_MESSAGE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class GoogleStatus:
    """The parts of a `google.rpc.Status` a caller acts on."""

    code: int | None
    message: str | None
    status: str | None
    reasons: tuple[str, ...] = ()
    retry_delay: float | None = None
    daily_quota: bool = False

    @property
    def reason(self) -> str | None:
        """The first `ErrorInfo.reason`, e.g. `API_KEY_INVALID`."""
        return self.reasons[0] if self.reasons else None


def parse_duration(value: Any) -> float | None:
    """Seconds from a protobuf Duration in its JSON form (`"59s"`, `"0.5s"`) or object form
    (`{"seconds": 59, "nanos": 0}`); None when unreadable or negative."""
    try:
        if isinstance(value, str):
            seconds = float(value.strip().removesuffix("s"))
        elif isinstance(value, Mapping):
            seconds = float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        else:
            return None
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _status_from(err: Mapping[str, Any]) -> GoogleStatus:
    reasons: list[str] = []
    retry_delay: float | None = None
    daily = False
    details = err.get("details")
    for item in details if isinstance(details, list) else ():
        if not isinstance(item, Mapping):
            continue
        kind = item.get("@type")
        if kind == _TYPE_ERROR_INFO and isinstance(item.get("reason"), str):
            reasons.append(item["reason"])
        elif kind == _TYPE_RETRY_INFO:
            retry_delay = parse_duration(item.get("retryDelay"))
        elif kind == _TYPE_QUOTA_FAILURE:
            for violation in item.get("violations") or ():
                if isinstance(violation, Mapping):
                    ids = f"{violation.get('quotaId', '')} {violation.get('quotaMetric', '')}"
                    daily = daily or "PerDay" in ids
    code = err.get("code")
    message = err.get("message")
    status = err.get("status")
    return GoogleStatus(
        code=code if isinstance(code, int) else None,
        message=message if isinstance(message, str) else None,
        status=status if isinstance(status, str) else None,
        reasons=tuple(reasons),
        retry_delay=retry_delay,
        daily_quota=daily,
    )


def parse_google_status(body: bytes | str | Mapping[str, Any] | list[Any]) -> GoogleStatus | None:
    """The `google.rpc.Status` inside an error body (`{"error": {...}}`, or a one-element array of it
    as the non-SSE stream sends); None when the body is not one."""
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
    if isinstance(data, list) and data:
        data = data[0]
    err = data.get("error") if isinstance(data, Mapping) else None
    return _status_from(err) if isinstance(err, Mapping) else None


def _text_of(body: bytes | str) -> str | None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text[:_MESSAGE_LIMIT] or None


def google_error(status_code: int, headers: Mapping[str, str] | None, body: bytes | str) -> ProviderError:
    """The typed error for a non-2xx Gemini/Vertex answer.

    A credentials reason (API_KEY_INVALID...) is an AuthenticationError whatever the status; a 429's
    `RetryInfo.retryDelay` becomes `retry_after`; a spent daily quota is not retryable.
    """
    status = parse_google_status(body)
    if status is None:
        # Not a google.rpc.Status (e.g. an HTML 404 for an unknown region): keep the text's start.
        return error_for_status(status_code, _text_of(body), headers=headers)
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if _CREDENTIAL_REASONS.intersection(status.reasons) or (
        status_code < 500 and status.status in _CREDENTIAL_STATUSES
    ):
        cls = AuthenticationError
    elif status_code == 429 or status.status == "RESOURCE_EXHAUSTED":
        cls = RateLimitError
        retryable = not status.daily_quota
    message = status.message or status.status or _text_of(body)
    if status.status and message and status.status not in message:
        message = f"{message} [{status.status}]"
    return error_for_status(
        status_code,
        message,
        headers=headers,
        code=status.reason or status.status,
        retry_after=status.retry_delay,
        retryable=retryable,
        cls=cls,
    )


def stream_error(status: GoogleStatus, *, http_status: int) -> StreamInterruptedError:
    """The error for a `google.rpc.Status` that arrived inside a stream that had already started."""
    message = status.message or status.status or "no error message"
    label = " ".join(str(part) for part in (status.code, status.status) if part is not None)
    return StreamInterruptedError(
        f"{current_provider()}: the stream carried an error"
        + (f" ({label})" if label else "")
        + f": {message}",
        status=http_status,
        provider_message=status.message,
        code=status.reason or status.status,
    )
