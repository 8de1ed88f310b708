"""Canary secrets: recognisable values that connectors in tests carry as their secrets, so the
suite-wide check (tests/conftest.py) can fail any test that lets one escape into a log line,
output, audit line, exception text, API response or the data directory's stored plaintext."""

from __future__ import annotations

import re
import secrets

__all__ = ["CANARY_PREFIX", "canaries", "canary_secret", "find_canary"]

CANARY_PREFIX = "sk-canary-"
_ISSUED: dict[str, str] = {}
_PATTERN: re.Pattern[str] | None = None


def canary_secret(label: str = "secret") -> str:
    """A canary for `label` (the same value for the same label within a run), registered for the check."""
    global _PATTERN
    value = _ISSUED.get(label)
    if value is None:
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "secret"
        value = _ISSUED[label] = f"{CANARY_PREFIX}{slug}-{secrets.token_hex(8)}"
        _PATTERN = None
    return value


def canaries() -> tuple[str, ...]:
    """Every canary issued so far."""
    return tuple(_ISSUED.values())


def find_canary(text: str | bytes) -> str | None:
    """The first issued canary inside `text`, or None."""
    global _PATTERN
    if not _ISSUED:
        return None
    if _PATTERN is None:
        _PATTERN = re.compile("|".join(re.escape(v) for v in sorted(_ISSUED.values(), key=len, reverse=True)))
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = _PATTERN.search(text)
    return m.group() if m else None
