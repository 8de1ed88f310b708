"""Preconfigured connectors (`[preconfigured.<id>]` in `ai-connector.toml`) and the provider
settings the host hands to every connector: read once at startup, never stored, read-only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ai_connector.errors import ConfigValidationError
from ai_connector.host.errors import SettingsError, field_text
from ai_connector.host.settings import HostSettings
from ai_connector.validation import ValidatedConnector, validate_connector

if TYPE_CHECKING:
    from ai_connector.manager import ProviderRegistry
    from ai_connector.urlpolicy import UrlPolicy

__all__ = ["PreconfiguredConnector", "load_preconfigured", "with_provider_env"]

# The keys of a `[preconfigured.<id>]` table that go into the connector's config.
_CONFIG_KEYS = (
    "provider",
    "taskType",
    "inferenceId",
    "providerConfig",
    "taskTypeConfig",
    "contextWindowLength",
    "temperature",
    "headers",
)


@dataclass(frozen=True)
class PreconfiguredConnector:
    """A connector from `[preconfigured.<id>]`: read-only, never stored, secrets from the file."""

    id: str
    connector: ValidatedConnector
    expose_config: bool = False

    @property
    def name(self) -> str:
        """Its display name."""
        return self.connector.name


def with_provider_env(settings: HostSettings, registry: ProviderRegistry) -> HostSettings:
    """Settings whose `provider_settings` also hold what each provider's declared environment
    variables say (e.g. the elastic provider's AI_CONNECTOR_ELASTICSEARCH_URL); the file wins."""
    from ai_connector.manager import provider_host_settings

    merged = {pid: dict(values) for pid, values in settings.provider_settings.items()}
    for provider in registry:
        values = provider_host_settings(provider, settings.provider_settings.get(provider.id))
        if values:
            merged[provider.id] = values
    if merged == settings.provider_settings:
        return settings
    return dataclasses.replace(settings, provider_settings=merged)


def load_preconfigured(
    settings: HostSettings, registry: ProviderRegistry, url_policy: UrlPolicy
) -> dict[str, PreconfiguredConnector]:
    """Every `[preconfigured.<id>]` connector, validated; SettingsError names the first bad one."""
    out: dict[str, PreconfiguredConnector] = {}
    for cid, entry in settings.preconfigured.items():
        config = {k: entry[k] for k in _CONFIG_KEYS if k in entry}
        config.setdefault("inferenceId", cid)  # stable across restarts, unlike a generated one
        document = {
            "name": entry["name"],
            "config": config,
            "secrets": {"providerSecrets": dict(entry.get("providerSecrets") or {})},
        }
        try:
            validated = validate_connector(
                document,
                registry,
                require_secrets=True,
                url_policy=url_policy,
                host_settings=settings.provider_settings,
                connector_id=cid,
            )
        except ConfigValidationError as exc:
            raise SettingsError(
                f"[preconfigured.{cid}] in {settings.config_file_path} is invalid: {field_text(exc.errors)}"
            ) from None
        out[cid] = PreconfiguredConnector(cid, validated, bool(entry.get("exposeConfig", False)))
    return out
