"""The host's typed errors map onto OpenAI's status codes and error types one way each (the table
the route tests exercise end to end, here for every class, including those a fake cannot provoke)."""

from __future__ import annotations

import pytest

from ai_connector.api.openai.errors import from_exception, from_outcome
from ai_connector.errors import (
    AuthenticationError,
    ContextWindowExceededError,
    HostNotAllowedError,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitError,
    StreamInterruptedError,
    UnreachableError,
)
from ai_connector.host.errors import DecryptionError, ForbiddenError, MissingSecretsError, NotFoundError


@pytest.mark.parametrize(
    ("exc", "status", "type_", "code"),
    [
        (NotFoundError("no such connector"), 404, "invalid_request_error", "model_not_found"),
        (
            ForbiddenError("license", reason="license_invalid"),
            403,
            "invalid_request_error",
            "permission_denied",
        ),
        (MissingSecretsError("the connector has no secrets"), 400, "invalid_request_error", None),
        (DecryptionError("cannot decrypt"), 500, "server_error", None),
        (HostNotAllowedError("https://x.example"), 400, "invalid_request_error", None),
        (
            ContextWindowExceededError(estimated_prompt_tokens=90, max_tokens=20, context_window=100),
            400,
            "invalid_request_error",
            "context_length_exceeded",
        ),
        (RateLimitError("slow down", status=429, retry_after=1.2), 429, "requests", "rate_limit_exceeded"),
        (
            InvalidRequestError("bad", status=400, provider_message="bad field"),
            400,
            "invalid_request_error",
            None,
        ),
        (AuthenticationError("key refused", status=401), 400, "invalid_request_error", None),
        (ModelNotFoundError("no model", status=404), 400, "invalid_request_error", None),
        (ProviderTimeoutError("too slow"), 504, "server_error", "timeout"),
        (UnreachableError("refused"), 502, "server_error", None),
        (InvalidResponseError("garbage", status=200), 502, "server_error", None),
        (ProviderServerError("overloaded", status=503), 503, "server_error", None),
        (ProviderServerError("boom", status=500), 502, "server_error", None),
        (StreamInterruptedError("cut"), 502, "server_error", None),
        (RuntimeError("a bug"), 500, "server_error", None),
    ],
)
def test_each_error_class_has_openais_status_and_type(
    exc: Exception, status: int, type_: str, code: str | None
) -> None:
    error = from_exception(exc, model="m")
    assert (error.status, error.type, error.code) == (status, type_, code)
    assert set(error.body()["error"]) == {"message", "type", "param", "code"}


def test_a_rate_limit_carries_retry_after_rounded_up() -> None:
    error = from_exception(RateLimitError("slow down", status=429, retry_after=1.2), model="m")
    assert error.headers == {"retry-after": "2"}


def test_an_unexpected_error_says_nothing_of_itself() -> None:
    error = from_exception(RuntimeError("secret-ish detail"), model="m")
    assert "secret-ish" not in error.message


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ({"status": "error", "message": "error validating action params: [input]: required"}, 400),
        (
            {
                "status": "error",
                "message": "m",
                "service_message": "bad",
                "retry": False,
                "errorSource": "user",
            },
            400,
        ),
        (
            {
                "status": "error",
                "message": "m",
                "service_message": "429",
                "retry": True,
                "errorSource": "user",
            },
            429,
        ),
        (
            {
                "status": "error",
                "message": "m",
                "service_message": "5xx",
                "retry": True,
                "errorSource": "framework",
            },
            503,
        ),
        (
            {
                "status": "error",
                "message": "m",
                "service_message": "x",
                "retry": False,
                "errorSource": "framework",
            },
            502,
        ),
    ],
)
def test_an_execute_failure_body_maps_coarsely(outcome: dict[str, object], status: int) -> None:
    assert from_outcome(outcome).status == status
