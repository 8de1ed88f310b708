"""The runtime's own typed errors (the rest of the family lives in `ai_connector.errors`)."""

from __future__ import annotations

from typing import Any

from ai_connector.errors import ProviderError
from ai_connector.types import FailureKind

__all__ = ["TokenLimitReachedError"]


class TokenLimitReachedError(ProviderError):
    """The model stopped because it reached its output token limit (`finish_reason: "length"`).

    Kibana's non-streaming `unified_completion` refuses such an answer with `createTokenLimitReachedError`
    ("Token limit reached. Token limit is {tokenLimit}, but the current conversation has {tokenCount}
    tokens."); this error carries the same text, with the figures the runtime knows: the request's
    `max_tokens` (None when the model's own limit applied) and the completion tokens the provider
    reported (None without a usage chunk). Not retryable: the same request stops at the same limit.
    """

    kind = FailureKind.INVALID_REQUEST

    def __init__(
        self,
        *,
        token_limit: int | None = None,
        token_count: int | None = None,
        provider: str | None = None,
        message: str | None = None,
    ) -> None:
        self.token_limit = token_limit
        self.token_count = token_count
        if message is None:
            if token_limit is None and token_count is None:
                message = "Token limit reached"
            else:
                limit = token_limit if token_limit is not None else "the model's maximum"
                count = token_count if token_count is not None else "an unknown number of"
                message = (
                    f"Token limit reached. Token limit is {limit}, but the current conversation has "
                    f"{count} tokens."
                )
        super().__init__(message, provider=provider, code="length", retryable=False)

    def redacted(self, redact: Any) -> TokenLimitReachedError:
        """The same error with `redact` applied to its message (which holds only figures)."""
        return TokenLimitReachedError(
            token_limit=self.token_limit,
            token_count=self.token_count,
            provider=self.provider,
            message=redact(self.message),
        )
