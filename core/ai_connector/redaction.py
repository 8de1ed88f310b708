"""Redaction: every known secret value, plus the secret-looking patterns Kibana's
`truncateUpstreamBody` removes, is replaced before text reaches a log, an error or a result."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "MAX_MESSAGE", "RedactingLogger", "Redactor", "cap"]

MASK = "[REDACTED]"
MAX_MESSAGE = 1000  # Kibana's MAX_UPSTREAM_BODY_LENGTH (stack_connectors inference helpers.ts)
_TRUNCATED = "... [truncated]"


def cap(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to `limit` characters, its end marked as Kibana's truncateUpstreamBody marks it."""
    return text if len(text) <= limit else text[: limit - len(_TRUNCATED)] + _TRUNCATED


# Kibana's list (helpers.ts truncateUpstreamBody): bearer tokens, sk- keys, key/secret/token values.
_PATTERNS = re.compile(
    r"(?i)(?P<bearer>\bbearer\s+)[^\s\"',}]+"  # any Bearer token, whatever its length (Kibana)
    r"|(?P<apikey>\bapikey\s+)[A-Za-z0-9._~+/=\-]{8,}"
    r"|\bsk-[A-Za-z0-9_\-]{8,}"
    r"|(?P<kv>(?:\"|')?\b(?:authorization|api[_-]?key|x-api-key|password|[a-z_]*_secret|secret_key|"
    r"private_key|aws_secret_access_key|credential|access_token|refresh_token|id_token|auth_token|"
    r"session_token|token)(?:\"|')?\s*[:=]\s*(?:\"|')?)(?!(?:bearer|apikey|basic)\s)[^\s\"',}&]{4,}"
)


def _pattern_sub(match: re.Match[str]) -> str:
    prefix = match.group("bearer") or match.group("apikey") or match.group("kv") or ""
    return prefix + MASK


class Redactor:
    """Replaces the given secret values (and secret-looking patterns) in any text."""

    __slots__ = ("_literal",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: Any) -> str:
        """The text with every secret replaced by `[REDACTED]`."""
        if not isinstance(text, str):
            text = str(text)
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        return _PATTERNS.sub(_pattern_sub, text)

    def __repr__(self) -> str:
        return "Redactor(...)"


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that formats each message itself and redacts it before any handler sees it."""

    def __init__(self, logger: logging.Logger, redactor: Redactor) -> None:
        super().__init__(logger, {})
        self.redactor = redactor

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Format `msg % args`, redact the result and log it (exc_info is redacted too)."""
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            import traceback

            if exc_info is True:
                import sys

                exc_info = sys.exc_info()
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            text += "\n" + "".join(traceback.format_exception(*exc_info))
        kwargs.pop("stack_info", None)
        self.logger.log(level, self.redactor(text), **kwargs)
