"""Canary secrets: recognisable values that connectors in tests carry as their secrets, so the
suite-wide check (tests/conftest.py) can fail any test that lets one escape into a log line,
output, audit line, exception text, API response or the data directory's stored plaintext.

A canary is derived from its label, so a child process (a second host in a multi-host test)
computes the same value as the test that started it.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["CANARY_PREFIX", "canaries", "canary_secret", "find_canary"]

CANARY_PREFIX = "sk-canary-"
_ISSUED: dict[str, str] = {}
_PATTERN: re.Pattern[str] | None = None


def canary_secret(label: str = "secret") -> str:
    """The canary for `label`, registered for the suite-wide check."""
    global _PATTERN
    value = _ISSUED.get(label)
    if value is None:
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "secret"
        digest = hashlib.sha256(label.encode()).hexdigest()[:16]
        value = _ISSUED[label] = f"{CANARY_PREFIX}{slug}-{digest}"
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
        values = sorted(_ISSUED.values(), key=len, reverse=True)
        _PATTERN = re.compile("|".join(re.escape(v) for v in values))
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    m = _PATTERN.search(text)
    return m.group() if m else None
