"""The error kinds some providers have beyond the cross-provider table (test_error_kinds.py, which
holds credentials, model not found, rate limit, quota and server error for every provider): the fake
answers one failure per kind, and the call must raise the typed error of that kind, retryable or not,
naming the provider and never the secret. Imported by the provider test modules (prepend import mode)."""

from __future__ import annotations

from typing import Any

import pytest

from ai_connector.plugin import InvalidRequestError, ProviderError
from ai_connector.testing import FakeResponse
from ai_connector.types import FailureKind

# kind -> (error class, failure kind, retryable)
KINDS: dict[str, tuple[type[ProviderError], FailureKind, bool]] = {
    "invalid": (InvalidRequestError, FailureKind.INVALID_REQUEST, False),
    "model_error": (ProviderError, FailureKind.PROVIDER_ERROR, False),
}


def error_cases(**answers: FakeResponse) -> Any:
    """`@error_cases(invalid=..., model_error=...)`: parametrize a test with `(answer, expected)`, one
    case per kind the provider has (its fake's answer for it)."""
    params = [pytest.param(answer, KINDS[kind], id=kind) for kind, answer in answers.items()]
    return pytest.mark.parametrize(("answer", "expected"), params)


def assert_kind(
    error: ProviderError, expected: tuple[type[ProviderError], FailureKind, bool], **where: str
) -> None:
    """`error` is of the expected class, kind and retryability, carries the provider's message, names
    `where["provider"]` and holds no `where["secret"]`."""
    cls, kind, retryable = expected
    assert isinstance(error, cls) and error.kind is kind and error.retryable is retryable
    assert error.provider_message and error.provider == where["provider"]
    assert where["secret"] not in str(error) and where["secret"] not in repr(error)
