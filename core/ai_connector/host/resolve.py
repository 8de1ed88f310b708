"""From a request body or a stored row to a connector that can run, and back to a stored row.

Validation against the registry (Kibana's 400 texts), secrets encrypted with the connector's
id/type/config bound as associated data, decryption with typed failures (never an empty secret
used as if valid), the allowedHosts re-check before a call, and a redactor for what a call may echo.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ai_connector.errors import AIConnectorError, ConfigValidationError, FieldError
from ai_connector.host.crypto import SecretCipher
from ai_connector.host.errors import BadRequestError, HostError, MissingSecretsError, field_text
from ai_connector.host.license import CONNECTOR_TYPE_ID
from ai_connector.host.settings import HostSettings
from ai_connector.host.store import StoredConnector
from ai_connector.redaction import Redactor
from ai_connector.validation import ValidatedConnector, validate_connector

if TYPE_CHECKING:
    from ai_connector.manager import ProviderRegistry
    from ai_connector.urlpolicy import UrlPolicy

__all__ = ["Resolver", "body_secrets", "redactor", "refuse_unknown_update_keys", "update_document"]

log = logging.getLogger("ai_connector.host")

# What an update may send, and the config keys a saved connector keeps (with their labels).
_UPDATE_KEYS = frozenset({"name", "config", "secrets"})
_FIXED_CONFIG = (("provider", "Service"), ("taskType", "Task type"), ("inferenceId", "Inference Endpoint ID"))


def _strings(value: Any) -> list[str]:
    """Every string inside `value` (to redact whatever secrets a raw body carried)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def body_secrets(body: Any) -> list[str]:
    """Every string under a raw request body's `secrets` (redacted from what the call reports)."""
    if isinstance(body, Mapping) and isinstance(body.get("secrets"), Mapping):
        return _strings(body["secrets"])
    return []


def redactor(*sources: ValidatedConnector | Mapping[str, Any] | list[str] | tuple[str, ...]) -> Redactor:
    """A redactor for a validated connector's secrets and any raw strings given beside it."""
    values: list[str] = []
    for source in sources:
        if isinstance(source, ValidatedConnector):
            values += source.secrets.values_for_redaction()
        elif isinstance(source, Mapping):
            values += _strings(source)
        else:
            values += [s for s in source if isinstance(s, str)]
    return Redactor(values)


class Resolver:
    """Validates, encrypts and decrypts connectors for one host (its registry, key and rules)."""

    def __init__(
        self,
        settings: HostSettings,
        registry: ProviderRegistry,
        cipher: SecretCipher,
        url_policy: UrlPolicy,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.cipher = cipher
        self.url_policy = url_policy

    def validate(
        self, document: Mapping[str, Any], connector_id: str | None, *, require_secrets: bool = True
    ) -> ValidatedConnector:
        """A request's connector document, validated with the URL policy; BadRequestError lists
        every field error."""
        try:
            return validate_connector(
                document,
                self.registry,
                require_secrets=require_secrets,
                url_policy=self.url_policy,
                host_settings=self.settings.provider_settings,
                connector_id=connector_id,
            )
        except ConfigValidationError as exc:
            raise BadRequestError.for_connector(exc) from None

    def encrypt(self, connector_id: str, validated: ValidatedConnector) -> str:
        """The secrets token stored for `validated` under `connector_id`."""
        return self.cipher.encrypt(
            dict(validated.secrets),
            connector_id=connector_id,
            connector_type=CONNECTOR_TYPE_ID,
            config=validated.config,
        )

    def decrypt(self, record: StoredConnector) -> dict[str, Any]:
        """A stored row's secrets; MissingSecretsError or DecryptionError when there are none usable."""
        if record.secrets is None:
            raise MissingSecretsError.connector(record.id)
        return self.cipher.decrypt(
            record.secrets,
            connector_id=record.id,
            connector_type=record.connector_type_id,
            config=record.config,
        )

    def is_missing_secrets(self, record: StoredConnector) -> bool:
        """Kibana's `is_missing_secrets`: no secrets this host can decrypt."""
        try:
            self.decrypt(record)
        except HostError as exc:
            log.debug("connector %s: %s", record.id, exc.message)
            return True
        return False

    def resolve(self, record: StoredConnector) -> ValidatedConnector:
        """The stored connector, decrypted and validated for a run (typed errors, never a crash)."""
        return self._validated(record, self.decrypt(record), require_secrets=True)

    def resolve_for_hook(self, record: StoredConnector) -> ValidatedConnector | None:
        """Best effort for the delete hook: secrets when they decrypt, none otherwise."""
        try:
            secrets: dict[str, Any] = self.decrypt(record)
        except HostError:
            secrets = {}
        try:
            return self._validated(record, secrets, require_secrets=False)
        except AIConnectorError as exc:
            log.warning("connector %s: cannot run its delete hook: %s", record.id, exc)
            return None

    def _validated(
        self, record: StoredConnector, secrets: dict[str, Any], *, require_secrets: bool
    ) -> ValidatedConnector:
        document = {
            "name": record.name,
            "config": dict(record.config),
            "secrets": {"providerSecrets": secrets},
        }
        try:
            return validate_connector(
                document, self.registry, require_secrets=require_secrets, connector_id=record.id
            )
        except ConfigValidationError as exc:
            raise BadRequestError.for_connector(exc) from None

    def check_hosts(self, validated: ValidatedConnector) -> None:
        """Raise HostNotAllowedError for the first provider URL allowed_hosts refuses (checked again
        before each call because allowed_hosts may have changed since the connector was saved)."""
        urls = validated.provider.urls
        if urls is None:
            return
        host_settings = self.settings.provider_settings.get(validated.provider.id, {})
        for url in urls(validated.endpoint(), host_settings):
            self.url_policy.check(url)


def refuse_unknown_update_keys(body: Mapping[str, Any]) -> None:
    """An update body holds only name, config and secrets (400 naming every other key)."""
    unknown = sorted(set(body) - _UPDATE_KEYS)
    if not unknown:
        return
    errors = [
        FieldError(
            k,
            k,
            k,
            f"{k} cannot be changed"
            if k in ("id", "connector_type_id")
            else f"'{k}' is not a known field here",
        )
        for k in unknown
    ]
    raise BadRequestError(f"error validating connector type config: {field_text(errors)}", errors)


def _keep_fixed_config(config: dict[str, Any], record: StoredConnector) -> dict[str, Any]:
    """`config` with the stored provider, task type and endpoint id where it omits them; a change of
    any of them is a 400 (the connector owns that inference endpoint)."""
    errors = []
    for key, label in _FIXED_CONFIG:
        stored = record.config.get(key)
        if key not in config:
            if stored is not None:
                config[key] = stored
        elif config[key] != stored:
            errors.append(
                FieldError(
                    f"config.{key}",
                    key,
                    label,
                    f"{label} of a saved connector cannot be changed (create a new connector)",
                )
            )
    if errors:
        raise BadRequestError(f"error validating connector type config: {field_text(errors)}", errors)
    return config


def update_document(body: Mapping[str, Any], record: StoredConnector) -> dict[str, Any]:
    """The connector document an update body stands for, over the stored row (400 on a change of a
    fixed config key; a missing name is left for validation to report)."""
    config = body.get("config")
    if isinstance(config, Mapping):
        config = _keep_fixed_config(dict(config), record)
    document = {"name": body.get("name"), "config": config, "secrets": body.get("secrets", {})}
    if document["name"] is None:
        del document["name"]
    return document
