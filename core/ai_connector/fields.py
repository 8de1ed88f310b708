"""Schema fields many providers share, as Elasticsearch builds them once (`RateLimitSettings`)."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_RATE_LIMIT_DESCRIPTION", "rate_limit_field"]

DEFAULT_RATE_LIMIT_DESCRIPTION = "Minimize the number of rate limit errors."


def rate_limit_field(description: str = DEFAULT_RATE_LIMIT_DESCRIPTION) -> dict[str, Any]:
    """ES's `rate_limit.requests_per_minute` setting (label "Rate Limit", optional, not updatable),
    as the nested group the core flattens to the dotted key."""
    return {
        "type": "object",
        "title": "Rate Limit",
        "properties": {
            "requests_per_minute": {
                "type": "integer",
                "title": "Rate Limit",
                "description": description,
                "minimum": 1,
                "x-updatable": False,
            }
        },
        "additionalProperties": False,
    }
