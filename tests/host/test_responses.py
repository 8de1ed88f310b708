"""The one place an execute error becomes Kibana's body: chosen by the exception's type, never by
its message, for the service's `execute` and the route's stream refused before its first chunk."""

from __future__ import annotations

import pytest

from ai_connector.errors import (
    ConfigValidationError,
    ContextWindowExceededError,
    FieldError,
    HostNotAllowedError,
    RateLimitError,
    UnsupportedTaskError,
)
from ai_connector.host.errors import (
    DecryptionError,
    MissingSecretsError,
    ParamsError,
    UnknownSubActionError,
)
from ai_connector.host.responses import RUNNING_ERROR, execute_failure, stream_error_event
from ai_connector.redaction import Redactor

FIELD = FieldError("body.messages", "messages", "messages", "expected an array")


def running(service_message: str, *, retry: bool, source: str) -> dict[str, object]:
    return {
        "status": "error",
        "connector_id": "c1",
        "message": RUNNING_ERROR,
        "service_message": service_message,
        "retry": retry,
        "errorSource": source,
    }


# Kibana's action executor (lib/action_executor.ts) answers every error thrown while running with
# `retry: true`; only params the connector type refuses are `retry: false`, and they are the user's.
@pytest.mark.parametrize(
    ("exc", "body", "code"),
    [
        (
            # Kibana's sub-action framework: the sub-action's schema refusal is thrown, the user's
            ConfigValidationError([FIELD], what="params"),
            running(
                "Request validation failed (Error: [body.messages]: expected an array)",
                retry=True,
                source="user",
            ),
            "ValidationError",
        ),
        (
            # A params error whose text would not say so is still one: the type decides.
            ParamsError("the subAction is missing"),
            {
                "status": "error",
                "connector_id": "c1",
                "message": "the subAction is missing",
                "retry": False,
                "errorSource": "user",  # Kibana's validateAction
            },
            "ValidationError",
        ),
        (
            # ...and a provider message that reads like one is still the provider's.
            RateLimitError("error validating action params: slow down", status=429),
            running("error validating action params: slow down", retry=True, source="user"),
            "RateLimitError",
        ),
        (
            UnknownSubActionError('Sub action "x" is not registered.'),
            running('Sub action "x" is not registered.', retry=True, source="framework"),
            "UnknownSubActionError",
        ),
        (
            MissingSecretsError.connector("c1"),
            running(MissingSecretsError.connector("c1").message, retry=True, source="user"),
            "MissingSecretsError",
        ),
        (
            DecryptionError("no key opens these secrets"),
            running("no key opens these secrets", retry=True, source="framework"),
            "DecryptionError",
        ),
        (
            HostNotAllowedError("http://10.0.0.1/"),
            running(str(HostNotAllowedError("http://10.0.0.1/")), retry=True, source="user"),
            "HostNotAllowedError",
        ),
        (
            UnsupportedTaskError("no rerank here"),
            running("no rerank here", retry=True, source="user"),
            "UnsupportedTaskError",
        ),
        (
            ContextWindowExceededError(estimated_prompt_tokens=90, max_tokens=20, context_window=100),
            running(
                str(
                    ContextWindowExceededError(estimated_prompt_tokens=90, max_tokens=20, context_window=100)
                ),
                retry=True,
                source="user",
            ),
            "ContextWindowExceededError",
        ),
        (
            KeyError("sk-secret"),
            running("KeyError: '[REDACTED]'", retry=True, source="framework"),
            "KeyError",
        ),
    ],
)
def test_each_failure_has_one_body_chosen_by_its_type(exc, body, code) -> None:
    redact = Redactor(["sk-secret"])
    got, got_code = execute_failure("c1", exc, redact)
    assert (got, got_code) == (body, code)


def test_the_stream_error_event_says_kind_status_and_retry() -> None:
    assert stream_error_event(RateLimitError("slow down", status=429)) == {
        "error": {"message": "slow down", "type": "rate_limited", "status": 429, "retry": True}
    }
    assert stream_error_event(HostNotAllowedError("http://10.0.0.1/"))["error"]["type"] == "host_not_allowed"
    assert stream_error_event(MissingSecretsError("gone"))["error"] == {
        "message": "gone",
        "type": "MissingSecretsError",
        "status": None,
        "retry": False,
    }
    # Anything unexpected says nothing of itself.
    assert stream_error_event(RuntimeError("sk-secret")) == {
        "error": {"message": "An internal server error occurred.", "type": "internal"}
    }
