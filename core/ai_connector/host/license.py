"""License gating as Kibana's actions plugin does it (`lib/license_state.ts`, A5).

The `.inference` connector type requires `enterprise`; `trial` unlocks everything. A refused type
raises ForbiddenError (HTTP 403) with Kibana's reason text. The host's license comes from
`AI_CONNECTOR_LICENSE` (default `trial`, so the embedded default works out of the box).
"""

from __future__ import annotations

from dataclasses import dataclass

from ai_connector.host.errors import ForbiddenError

__all__ = [
    "CONNECTOR_TYPE_ID",
    "MINIMUM_LICENSE_REQUIRED",
    "LicenseState",
    "ensure_type_enabled",
    "is_type_enabled_in_config",
]

CONNECTOR_TYPE_ID = ".inference"
MINIMUM_LICENSE_REQUIRED = "enterprise"

# Kibana's licensing ranks; `trial` grants every feature.
_RANK = {"basic": 1, "standard": 1, "gold": 2, "platinum": 3, "enterprise": 4, "trial": 5}


@dataclass(frozen=True)
class LicenseState:
    """The host's license: a type, and whether it is active, expired or not known at all."""

    type: str | None = "trial"
    status: str = "active"  # active | expired | unavailable

    def check(self, minimum: str = MINIMUM_LICENSE_REQUIRED) -> str:
        """`valid`, `unavailable`, `expired` or `invalid` for a type that needs `minimum`."""
        if self.type is None or self.status == "unavailable" or self.type not in _RANK:
            return "unavailable"
        if self.status == "expired":
            return "expired"
        return "valid" if _RANK[self.type] >= _RANK[minimum] else "invalid"

    def enabled_in_license(self, minimum: str = MINIMUM_LICENSE_REQUIRED) -> bool:
        """True when the license allows a type that needs `minimum`."""
        return self.check(minimum) == "valid"

    def ensure(self, type_id: str = CONNECTOR_TYPE_ID, minimum: str = MINIMUM_LICENSE_REQUIRED) -> None:
        """Raise ForbiddenError with Kibana's text unless the license allows `type_id`."""
        state = self.check(minimum)
        if state == "valid":
            return
        if state == "unavailable":
            raise ForbiddenError(
                f"Action type {type_id} is disabled because license information is not available at "
                "this time.",
                reason="license_unavailable",
            )
        if state == "expired":
            raise ForbiddenError(
                f"Action type {type_id} is disabled because your {self.type} license has expired.",
                reason="license_expired",
            )
        raise ForbiddenError(
            f"Action type {type_id} is disabled because your {self.type} license does not support it. "
            "Please upgrade your license.",
            reason="license_invalid",
        )


def is_type_enabled_in_config(
    enabled: list[str] | tuple[str, ...], provider_id: str | None = None, type_id: str = CONNECTOR_TYPE_ID
) -> bool:
    """Kibana's `enabledActionTypes` check: `*`, the type id, or (ours) the provider id is listed.

    Listing provider ids (`["openai", "azureopenai"]`) enables `.inference` for those services only,
    as Kibana's experimental one-connector-type-per-provider variant did.
    """
    if "*" in enabled or type_id in enabled:
        return True
    if provider_id is None:
        return any(not e.startswith(".") for e in enabled)
    return provider_id in enabled


def ensure_type_enabled(
    enabled: list[str] | tuple[str, ...],
    license_state: LicenseState,
    provider_id: str | None = None,
    type_id: str = CONNECTOR_TYPE_ID,
) -> None:
    """Kibana's `ensureActionTypeEnabled`: the config list first, then the license (both 403)."""
    if not is_type_enabled_in_config(enabled, provider_id, type_id):
        what = f'"{type_id}"' if provider_id is None else f'"{type_id}" (service "{provider_id}")'
        raise ForbiddenError(
            f"action type {what} is not enabled in the ai-connector config enabled_connector_types",
            reason="config",
        )
    license_state.ensure(type_id)
