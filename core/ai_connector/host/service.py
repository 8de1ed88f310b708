"""ConnectorService: saved connectors with Kibana's rules, for host applications (async and sync).

The service is what the HTTP API and the CLI call. It applies Kibana's actions-framework rules
(security-anchors A1-A7): license and `enabled_connector_types` gates (403), validation with every
field error (400), preconfigured connectors that cannot be changed (400), optimistic versions (409),
write-only secrets encrypted at rest, the provider's save/delete hooks, *Save & test* with its result
kept beside the connector, `_execute`'s response shapes, and an audit line for every operation.

Responses are Kibana's connector objects exactly (A3.1): no field carries a secret, ever.

Where this differs from Kibana, on purpose:
- the license/enabled gate runs before body validation (Kibana validates first), so a host whose
  license refuses `.inference` answers 403 without looking at the body;
- an update keeps the stored `inferenceId` when the body omits it, and refuses a change of `provider`,
  `taskType` or `inferenceId` (the connector owns that inference endpoint) with a 400;
- a test or execution whose stored secrets cannot be decrypted answers with a typed, actionable
  failure (TestResult / `status: "error"`) instead of Kibana's generic 500 (A2.6, B3.2).

Running a saved connector, and how fresh it is. `execute` and `stream` keep, per connector id, the
ready-to-run state built from the stored row (decrypted secrets, validated connector, redactor),
keyed by what it was built from: the row's `version`, name, type, config and secrets ciphertext.
- This host's own create/update/delete/rotate drops the state: the next execute reads the row.
- Another host sharing the store (or a CLI on the same SQLite file) may change the row at any time.
  The state is used without a query for at most `revalidate_interval` seconds (host setting
  `AI_CONNECTOR_REVALIDATE_INTERVAL`, default 1 s) after the query that confirmed it; then one
  execute re-reads the row (concurrent executes of that connector share the query) and rebuilds the
  state only if the row changed. So an execute that starts at time t runs the connector as stored
  at some moment no earlier than t - revalidate_interval: another host's update is used, and its
  delete makes execute answer 404, within that bound. `0` re-reads the row on every execute.
  Kibana itself reads the saved object on every execute; the bound is the price of not doing so.
- The license and `enabled_connector_types` gates and the allowedHosts check run on every call.
- A failing read (database down) fails the execute, as before; nothing stale is used past the bound.
The state holds decrypted secrets in memory only (as each call did before), at most
`_READY_MAX` connectors, least recently checked dropped first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ai_connector.errors import (
    AIConnectorError,
    ConfigValidationError,
    ContextWindowExceededError,
    FieldError,
    HostNotAllowedError,
    ProviderError,
    UnsupportedTaskError,
)
from ai_connector.host.audit import AuditLog
from ai_connector.host.crypto import SecretCipher, cipher_for
from ai_connector.host.errors import (
    BadRequestError,
    ConflictError,
    DecryptionError,
    HostError,
    MissingSecretsError,
    SettingsError,
)
from ai_connector.host.license import (
    CONNECTOR_TYPE_ID,
    MINIMUM_LICENSE_REQUIRED,
    LicenseState,
    ensure_type_enabled,
    is_type_enabled_in_config,
)
from ai_connector.host.settings import ENV_VARS, HostSettings
from ai_connector.host.store import ConnectorStore, StoredConnector
from ai_connector.redaction import Redactor
from ai_connector.types import FailureKind, TestResult
from ai_connector.validation import ValidatedConnector, validate_connector

if TYPE_CHECKING:
    from ai_connector.manager import ProviderRegistry
    from ai_connector.runtime import Runtime

__all__ = [
    "CONNECTOR_TYPE_NAME",
    "KIBANA_SUB_ACTIONS",
    "ConnectorService",
    "PreconfiguredConnector",
    "SyncConnectorService",
    "error_source",
]

log = logging.getLogger("ai_connector.host")

CONNECTOR_TYPE_NAME = "AI Connector"
# Kibana registers these for `.inference` (stack_connectors inference.ts); anything else is
# "not registered".
KIBANA_SUB_ACTIONS = (
    "unified_completion",
    "unified_completion_stream",
    "completion",
    "text_embedding",
    "sparse_embedding",
    "rerank",
)
STREAM_SUB_ACTION = "unified_completion_stream"
SUPPORTED_FEATURE_IDS = (
    "generativeAIForSecurity",
    "generativeAIForObservability",
    "generativeAIForSearchPlayground",
)
_UPDATE_KEYS = frozenset({"name", "config", "secrets"})
_FIXED_CONFIG = (("provider", "Service"), ("taskType", "Task type"), ("inferenceId", "Inference Endpoint ID"))
_RUNNING_ERROR = "an error occurred while running the action"
_READY_MAX = 4096  # saved connectors whose ready-to-run state a host keeps

T = TypeVar("T")


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


@dataclass(slots=True)
class _Ready:
    """A saved connector ready to run, built from one stored state of its row."""

    row: tuple[Any, ...]  # (version, name, type, secrets token, config): what it was built from
    name: str
    provider_id: str | None  # for the gates, which run on every call
    runnable: ValidatedConnector | HostError  # or the typed reason it cannot run
    redact: Redactor
    checked_at: float  # monotonic time of the query that last confirmed `row`


def _row_key(record: StoredConnector) -> tuple[Any, ...]:
    return (record.version, record.name, record.connector_type_id, record.secrets, record.config)


# ---------------------------------------------------------------------------------------------
# Helpers


def _field_text(errors: tuple[FieldError, ...] | list[FieldError]) -> str:
    return "; ".join(f"[{e.path}]: {e.message}" if e.path else e.message for e in errors)


def _connector_bad_request(exc: ConfigValidationError) -> BadRequestError:
    """Kibana-like 400: `error validating connector config|secrets: [path]: reason; ...`."""
    where = "secrets" if exc.errors and all(e.path.startswith("secrets") for e in exc.errors) else "config"
    return BadRequestError(f"error validating connector {where}: {_field_text(exc.errors)}", exc.errors)


def _params_message(exc: ConfigValidationError) -> str:
    return f"error validating action params: {_field_text(exc.errors)}"


def _strings(value: Any) -> list[str]:
    """Every string inside `value` (to redact whatever secrets a raw body carried)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _body_secrets(body: Any) -> list[str]:
    if isinstance(body, Mapping) and isinstance(body.get("secrets"), Mapping):
        return _strings(body["secrets"])
    return []


def error_source(exc: BaseException) -> str:
    """Kibana's errorSource: `user` for 4xx and the caller's own mistakes, `framework` otherwise."""
    if isinstance(exc, ProviderError):
        return "user" if exc.status is not None and 400 <= exc.status < 500 else "framework"
    if isinstance(
        exc,
        HostNotAllowedError | ContextWindowExceededError | UnsupportedTaskError | ConfigValidationError,
    ):
        return "user"
    if isinstance(exc, MissingSecretsError | BadRequestError):
        return "user"
    return "framework"


_error_source = error_source  # the name the API module first imported


# ---------------------------------------------------------------------------------------------


class ConnectorService:
    """Saved and preconfigured connectors behind Kibana's rules. Open with `await ConnectorService.open()`.

    Every method takes `user` (who is acting, for the audit log); authentication and privileges are
    the API's job.
    """

    def __init__(
        self,
        *,
        settings: HostSettings,
        registry: ProviderRegistry,
        runtime: Runtime,
        store: ConnectorStore,
        cipher: SecretCipher,
        audit: AuditLog,
        license_state: LicenseState,
        preconfigured: Mapping[str, PreconfiguredConnector],
        owns_runtime: bool = False,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.runtime = runtime
        self.store = store
        self.cipher = cipher
        self.audit = audit
        self.license_state = license_state
        self.preconfigured: Mapping[str, PreconfiguredConnector] = dict(preconfigured)
        self.unknown_key_ids: dict[str, int] = {}
        self._owns_runtime = owns_runtime
        self._closed = False
        # Ready-to-run states (see the module docstring) and the row reads in flight, per id.
        self._ready: dict[str, _Ready] = {}
        self._reading: dict[str, tuple[float, asyncio.Future[_Ready]]] = {}
        self._generation = 0  # bumped when this host changes a row: reads begun before are not kept
        self._preconfigured_redactors = {
            cid: self._redactor(pc.connector) for cid, pc in self.preconfigured.items()
        }

    # -- lifecycle -------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        settings: HostSettings | None = None,
        *,
        registry: ProviderRegistry | None = None,
        runtime: Runtime | None = None,
        license_state: LicenseState | None = None,
    ) -> ConnectorService:
        """Load settings (default: environment + `ai-connector.toml`), the key, the store and the
        preconfigured connectors. Raises SettingsError for a configuration that cannot work."""
        settings = settings if settings is not None else HostSettings.load()
        if registry is None:
            from ai_connector.manager import default_registry

            registry = default_registry()
        settings = _with_provider_env(settings, registry)
        owns_runtime = runtime is None
        if runtime is None:
            from ai_connector.runtime import Runtime

            runtime = Runtime(registry, settings.runtime_settings())
        try:
            await asyncio.to_thread(settings.home.mkdir, parents=True, exist_ok=True, mode=0o700)
            cipher = await asyncio.to_thread(cipher_for, settings)
            store = await asyncio.to_thread(ConnectorStore.open, settings.database_url)
        except BaseException:
            if owns_runtime:
                await runtime.aclose()
            raise
        try:
            preconfigured = _load_preconfigured(settings, registry, runtime)
        except BaseException:
            store.close()
            if owns_runtime:
                await runtime.aclose()
            raise
        service = cls(
            settings=settings,
            registry=registry,
            runtime=runtime,
            store=store,
            cipher=cipher,
            audit=AuditLog(
                settings.audit_log_path,
                connector_type=CONNECTOR_TYPE_ID,
                flush_interval=settings.audit_flush_interval,
            ),
            license_state=license_state or LicenseState(settings.license),
            preconfigured=preconfigured,
            owns_runtime=owns_runtime,
        )
        await asyncio.to_thread(service._check_keys)
        return service

    def _check_keys(self) -> None:
        # Two hosts sharing a store with different keys strand each other's secrets (A2.2, B3.7):
        # say so at startup instead of failing one connector at a time.
        in_use = self.store.key_ids_in_use()
        known = set(self.cipher.key_ids)
        self.unknown_key_ids = {k: n for k, n in in_use.items() if k not in known}
        if self.unknown_key_ids:
            count = sum(self.unknown_key_ids.values())
            log.warning(
                "%d connector(s) have secrets encrypted with key(s) %s that this host does not have: "
                "they report is_missing_secrets and cannot run. Add the previous key to %s (every "
                "host sharing this store must use the same keys).",
                count,
                ", ".join(sorted(self.unknown_key_ids)),
                ENV_VARS["decryption_only_keys"],
            )

    async def aclose(self) -> None:
        """Close the store (and the runtime, when the service created it)."""
        if self._closed:
            return
        self._closed = True
        self._forget()
        try:
            if self._owns_runtime:
                await self.runtime.aclose()
            await asyncio.to_thread(self.store.close)
        finally:
            self.audit.close()

    async def __aenter__(self) -> ConnectorService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- shared pieces ---------------------------------------------------------------------------

    def _gate(self, provider_id: str | None) -> None:
        ensure_type_enabled(self.settings.enabled_connector_types, self.license_state, provider_id)

    def _validate(
        self, document: Mapping[str, Any], connector_id: str | None, *, require_secrets: bool = True
    ) -> ValidatedConnector:
        try:
            return validate_connector(
                document,
                self.registry,
                require_secrets=require_secrets,
                url_policy=self.runtime.url_policy,
                host_settings=self.settings.provider_settings,
                connector_id=connector_id,
            )
        except ConfigValidationError as exc:
            raise _connector_bad_request(exc) from None

    def _encrypt(self, connector_id: str, validated: ValidatedConnector) -> str:
        return self.cipher.encrypt(
            dict(validated.secrets),
            connector_id=connector_id,
            connector_type=CONNECTOR_TYPE_ID,
            config=validated.config,
        )

    def _decrypt(self, record: StoredConnector) -> dict[str, Any]:
        if record.secrets is None:
            raise MissingSecretsError.connector(record.id)
        return self.cipher.decrypt(
            record.secrets,
            connector_id=record.id,
            connector_type=record.connector_type_id,
            config=record.config,
        )

    def _is_missing_secrets(self, record: StoredConnector) -> bool:
        try:
            self._decrypt(record)
        except HostError as exc:
            log.debug("connector %s: %s", record.id, exc.message)
            return True
        return False

    def _resolve(self, record: StoredConnector) -> ValidatedConnector:
        """The stored connector, decrypted and validated for a run (typed errors, never a crash)."""
        secrets = self._decrypt(record)  # DecryptionError / MissingSecretsError
        document = {
            "name": record.name,
            "config": dict(record.config),
            "secrets": {"providerSecrets": secrets},
        }
        try:
            return validate_connector(document, self.registry, require_secrets=True, connector_id=record.id)
        except ConfigValidationError as exc:
            raise _connector_bad_request(exc) from None

    def _resolve_for_hook(self, record: StoredConnector) -> ValidatedConnector | None:
        """Best effort for the delete hook: secrets when they decrypt, none otherwise."""
        try:
            secrets: dict[str, Any] = self._decrypt(record)
        except HostError:
            secrets = {}
        document = {
            "name": record.name,
            "config": dict(record.config),
            "secrets": {"providerSecrets": secrets},
        }
        try:
            return validate_connector(document, self.registry, require_secrets=False, connector_id=record.id)
        except (ConfigValidationError, AIConnectorError) as exc:
            log.warning("connector %s: cannot run its delete hook: %s", record.id, exc)
            return None

    def _check_hosts(self, validated: ValidatedConnector) -> None:
        """Raise HostNotAllowedError for the first provider URL allowed_hosts refuses (checked again
        here because allowed_hosts may have changed since the connector was saved)."""
        urls = validated.provider.urls
        if urls is None:
            return
        host_settings = self.settings.provider_settings.get(validated.provider.id, {})
        for url in urls(validated.endpoint(), host_settings):
            self.runtime.url_policy.check(url)

    def _redactor(self, *sources: Any) -> Redactor:
        values: list[str] = []
        for source in sources:
            if isinstance(source, ValidatedConnector):
                values += source.secrets.values_for_redaction()
            elif isinstance(source, Mapping):
                values += _strings(source)
            elif isinstance(source, list | tuple):
                values += [s for s in source if isinstance(s, str)]
        return Redactor(values)

    async def _run_hook(self, validated: ValidatedConnector, hook: str, *, is_update: bool = False) -> None:
        """The provider's on_save hook; any failure aborts the save with a 400 naming the reason."""
        try:
            await self.runtime.run_hook(validated, hook, is_update=is_update)
        except HostError:
            raise
        except ProviderError as exc:
            raise BadRequestError(self._redactor(validated)(exc.message)) from None
        except (HostNotAllowedError, ConfigValidationError, UnsupportedTaskError) as exc:
            raise BadRequestError(self._redactor(validated)(str(exc))) from None
        except Exception as exc:
            text = self._redactor(validated)(f"{type(exc).__name__}: {exc}")
            raise BadRequestError(f"the {validated.provider.name} save hook failed: {text}") from None

    def _audit_failure(
        self,
        action: str,
        connector_id: str | None,
        exc: BaseException,
        user: str | None,
        redact: Redactor,
        *,
        defer: bool = False,
    ) -> None:
        code = type(exc).__name__
        self.audit.log(
            action,
            connector_id=connector_id,
            error=exc,
            error_code=code,
            user=user,
            redact=redact,
            defer=defer,
        )

    async def _record(self, connector_id: str) -> StoredConnector:
        return await asyncio.to_thread(self.store.require, connector_id)

    # -- responses -------------------------------------------------------------------------------

    @staticmethod
    def _saved_response(record: StoredConnector, *, missing: bool) -> dict[str, Any]:
        return {
            "id": record.id,
            "name": record.name,
            "config": dict(record.config),
            "connector_type_id": CONNECTOR_TYPE_ID,
            "is_preconfigured": False,
            "is_deprecated": False,
            "is_missing_secrets": missing,
            "is_system_action": False,
            "is_connector_type_deprecated": False,
        }

    @staticmethod
    def _preconfigured_response(pc: PreconfiguredConnector, *, listing: bool = False) -> dict[str, Any]:
        # Kibana (connectorFromInMemoryConnector / getAll): no config unless exposeConfig, and no
        # is_missing_secrets for in-memory connectors.
        out: dict[str, Any] = {"id": pc.id, "name": pc.name}
        if pc.expose_config:
            out["config"] = dict(pc.connector.config)
        out["connector_type_id"] = CONNECTOR_TYPE_ID
        out["is_preconfigured"] = True
        out["is_deprecated"] = False
        if listing:
            out["referenced_by_count"] = 0
        out["is_system_action"] = False
        out["is_connector_type_deprecated"] = False
        return out

    @staticmethod
    def _listed(response: dict[str, Any]) -> dict[str, Any]:
        # GET /api/actions/connectors field order, with referenced_by_count (always 0 here: no rules).
        order = (
            "id",
            "name",
            "config",
            "connector_type_id",
            "is_preconfigured",
            "is_deprecated",
            "referenced_by_count",
            "is_missing_secrets",
            "is_system_action",
            "is_connector_type_deprecated",
        )
        response = {**response, "referenced_by_count": 0}
        return {k: response[k] for k in order if k in response}

    # -- create ----------------------------------------------------------------------------------

    async def create(
        self, body: Mapping[str, Any], *, connector_id: str | None = None, user: str | None = None
    ) -> dict[str, Any]:
        """Validate, gate, run the provider's save hook, encrypt and store a new connector.

        `body` is Kibana's `{name, connector_type_id?, config, secrets}`; the id is `connector_id`,
        else `body["id"]`, else a new UUID. Returns Kibana's connector object (no secrets).
        """
        if connector_id is None and isinstance(body, Mapping) and isinstance(body.get("id"), str):
            connector_id = body["id"]
        cid = connector_id or str(uuid.uuid4())
        redact = self._redactor(_body_secrets(body))
        hook_ran: ValidatedConnector | None = None
        try:
            if not isinstance(body, Mapping):
                raise BadRequestError("error validating connector config: the body must be a JSON object")
            type_id = body.get("connector_type_id", CONNECTOR_TYPE_ID)
            if type_id != CONNECTOR_TYPE_ID:
                raise BadRequestError(f'Action type "{type_id}" is not registered.')
            if cid in self.preconfigured:
                raise BadRequestError(f"This {cid} already exists in a preconfigured action.")
            config = body.get("config")
            provider_id = config.get("provider") if isinstance(config, Mapping) else None
            self._gate(provider_id if isinstance(provider_id, str) else None)
            # Unknown keys stay in: the connector schema refuses them with a field error.
            document = {k: v for k, v in body.items() if k != "id"}
            document["id"] = cid
            document.setdefault("connector_type_id", CONNECTOR_TYPE_ID)
            validated = self._validate(document, cid)
            self._gate(validated.provider.id)
            redact = self._redactor(validated, _body_secrets(body))
            if await asyncio.to_thread(self.store.exists, cid):
                raise ConflictError.connector(cid)
            await self._run_hook(validated, "on_save", is_update=False)
            hook_ran = validated
            self.audit.log("connector_create", connector_id=cid, outcome="unknown", user=user, required=True)
            token = self._encrypt(cid, validated)
            try:
                record = await asyncio.to_thread(
                    self.store.insert,
                    cid,
                    name=validated.name,
                    connector_type_id=CONNECTOR_TYPE_ID,
                    config=validated.config,
                    secrets=token,
                    user=user,
                )
            finally:
                self._forget(cid)
        except BaseException as exc:
            self._audit_failure("connector_create", cid, exc, user, redact)
            if hook_ran is not None:
                # Kibana's postSaveHook: a failed create removes what the save hook made.
                await self._delete_hook(hook_ran)
            raise
        self.audit.log("connector_create", connector_id=cid, user=user)
        return self._saved_response(record, missing=False)

    # -- read ------------------------------------------------------------------------------------

    async def get(self, connector_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Kibana's connector object for one saved or preconfigured connector (404 when unknown)."""
        try:
            pc = self.preconfigured.get(connector_id)
            if pc is not None:
                response = self._preconfigured_response(pc)
            else:
                record = await self._record(connector_id)
                missing = await asyncio.to_thread(self._is_missing_secrets, record)
                response = self._saved_response(record, missing=missing)
        except BaseException as exc:
            self._audit_failure("connector_get", connector_id, exc, user, Redactor(), defer=True)
            raise
        self.audit.log("connector_get", connector_id=connector_id, user=user, defer=True)
        return response

    async def list(self, *, user: str | None = None) -> list[dict[str, Any]]:
        """Every connector, saved and preconfigured, sorted by name, with `referenced_by_count: 0`."""
        try:
            records = await asyncio.to_thread(self.store.list)

            def responses() -> list[dict[str, Any]]:
                return [
                    self._listed(self._saved_response(r, missing=self._is_missing_secrets(r)))
                    for r in records
                ]

            saved = await asyncio.to_thread(responses)
        except BaseException as exc:
            self._audit_failure("connector_find", None, exc, user, Redactor(), defer=True)
            raise
        for r in records:
            self.audit.log("connector_find", connector_id=r.id, user=user, defer=True)
        merged = saved + [
            self._preconfigured_response(pc, listing=True) for pc in self.preconfigured.values()
        ]
        return sorted(merged, key=lambda c: (c["name"].casefold(), c["id"]))

    async def details(self, connector_id: str) -> dict[str, Any]:
        """Bookkeeping the Kibana object leaves out: version, timestamps, authors and the last test.

        Pass `version` back as `expected_version` to update only what you read.
        """
        pc = self.preconfigured.get(connector_id)
        if pc is not None:
            return {"id": connector_id, "is_preconfigured": True, "version": None, "last_test": None}
        record = await self._record(connector_id)
        return {
            "id": record.id,
            "is_preconfigured": False,
            "version": record.version,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "created_by": record.created_by,
            "updated_by": record.updated_by,
            "last_test": dict(record.last_test) if record.last_test else None,
        }

    # -- update ----------------------------------------------------------------------------------

    async def update(
        self,
        connector_id: str,
        body: Mapping[str, Any],
        *,
        user: str | None = None,
        expected_version: int | None = None,
        keep_secrets: bool = False,
    ) -> dict[str, Any]:
        """Replace name, config and secrets (Kibana's PUT: secrets must be sent again; with
        `keep_secrets`, a body without providerSecrets keeps the stored ones, as the web page's edit).

        Provider, task type and inference endpoint id are fixed (400 if changed; omitted ones are
        kept). With `expected_version` the update applies only to that version; without it, to the
        version read here — either way a concurrent change is a 409, never a silent overwrite.
        """
        redact = self._redactor(_body_secrets(body))
        try:
            if connector_id in self.preconfigured:
                raise BadRequestError(f"Preconfigured action {connector_id} can not be updated.")
            if not isinstance(body, Mapping):
                raise BadRequestError("error validating connector config: the body must be a JSON object")
            unknown = sorted(set(body) - _UPDATE_KEYS)
            if unknown:
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
                raise BadRequestError(f"error validating connector config: {_field_text(errors)}", errors)
            record = await self._record(connector_id)
            version = record.version if expected_version is None else expected_version
            if version != record.version:
                raise ConflictError.connector(connector_id)
            config = (
                dict(body.get("config") or {})
                if isinstance(body.get("config"), Mapping)
                else body.get("config")
            )
            if isinstance(config, dict):
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
                    raise BadRequestError(f"error validating connector config: {_field_text(errors)}", errors)
            self._gate(record.config.get("provider"))
            secrets = body.get("secrets", {})
            if keep_secrets and not (isinstance(secrets, Mapping) and secrets.get("providerSecrets")):
                secrets = {"providerSecrets": self._decrypt(record)}
            document = {"name": body.get("name"), "config": config, "secrets": secrets}
            if document["name"] is None:
                del document["name"]
            validated = self._validate(document, connector_id)
            redact = self._redactor(validated, _body_secrets(body))
            await self._run_hook(validated, "on_save", is_update=True)
            self.audit.log(
                "connector_update", connector_id=connector_id, outcome="unknown", user=user, required=True
            )
            token = self._encrypt(connector_id, validated)
            try:
                updated = await asyncio.to_thread(
                    self.store.update,
                    connector_id,
                    expected_version=version,
                    name=validated.name,
                    config=validated.config,
                    secrets=token,
                    user=user,
                )
            finally:
                self._forget(connector_id)  # the next execute reads the row this update wrote
        except BaseException as exc:
            self._audit_failure("connector_update", connector_id, exc, user, redact)
            raise
        self.audit.log("connector_update", connector_id=connector_id, user=user)
        return self._saved_response(updated, missing=False)

    # -- delete ----------------------------------------------------------------------------------

    async def delete(
        self, connector_id: str, *, user: str | None = None, expected_version: int | None = None
    ) -> None:
        """Delete a saved connector (Kibana answers 204), then run the provider's delete hook.

        Preconfigured: 400. Unknown: 404. Changed since read (or not at `expected_version`): 409.
        Hook failures are logged, not fatal (Kibana's postDeleteHook).
        """
        try:
            if connector_id in self.preconfigured:
                raise BadRequestError(f"Preconfigured action {connector_id} is not allowed to delete.")
            record = await self._record(connector_id)
            version = record.version if expected_version is None else expected_version
            self.audit.log(
                "connector_delete", connector_id=connector_id, outcome="unknown", user=user, required=True
            )
            try:
                await asyncio.to_thread(self.store.delete, connector_id, expected_version=version)
            finally:
                self._forget(connector_id)
        except BaseException as exc:
            self._audit_failure("connector_delete", connector_id, exc, user, Redactor())
            raise
        self.audit.log("connector_delete", connector_id=connector_id, user=user)
        validated = await asyncio.to_thread(self._resolve_for_hook, record)
        if validated is not None:
            await self._delete_hook(validated)

    async def _delete_hook(self, validated: ValidatedConnector) -> None:
        try:
            await self.runtime.run_hook(validated, "on_delete")
        except Exception as exc:
            log.warning(
                "connector %s: the %s delete hook failed (ignored): %s",
                validated.connector_id,
                validated.provider.id,
                self._redactor(validated)(f"{type(exc).__name__}: {exc}"),
            )

    # -- test ------------------------------------------------------------------------------------

    async def test(
        self,
        connector_id: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> TestResult:
        """*Save & test*'s test: a saved connector (by id) or an unsaved body.

        Gates (403) and, for a body, validation and the URL policy (400) raise; everything about the
        connector itself (its secrets, hosts, the provider's answer, the timeout) is a failed
        TestResult. A saved connector keeps the result (time, status, message) beside it.
        """
        if (connector_id is None) == (body is None):
            raise BadRequestError("test needs either a saved connector's id or an unsaved connector body")
        record: StoredConnector | None = None
        redact = self._redactor(_body_secrets(body))
        try:
            if body is not None:
                if not isinstance(body, Mapping):
                    raise BadRequestError("error validating connector config: the body must be a JSON object")
                config = body.get("config")
                provider_id = config.get("provider") if isinstance(config, Mapping) else None
                self._gate(provider_id if isinstance(provider_id, str) else None)
                document = {k: v for k, v in body.items() if k != "id"}
                validated_or_failure: ValidatedConnector | TestResult = self._validate(document, None)
                self._gate(validated_or_failure.provider.id)
            else:
                assert connector_id is not None
                pc = self.preconfigured.get(connector_id)
                if pc is not None:
                    self._gate(pc.connector.provider.id)
                    validated_or_failure = pc.connector
                else:
                    record = await self._record(connector_id)
                    self._gate(record.config.get("provider"))
                    validated_or_failure = await asyncio.to_thread(self._resolve_or_failure, record)
        except BaseException as exc:
            self._audit_failure("connector_test", connector_id, exc, user, redact)
            raise
        if isinstance(validated_or_failure, TestResult):
            result = validated_or_failure
        else:
            validated = validated_or_failure
            redact = self._redactor(validated, _body_secrets(body))
            result = await self._run_test(validated, redact)
        if record is not None:
            await asyncio.to_thread(
                self.store.record_test,
                record.id,
                version=record.version,
                status="succeeded" if result.ok else "failed",
                message=result.message,
                failure=None if result.failure is None else result.failure.value,
                latency_ms=result.latency_ms,
            )
        if result.ok:
            self.audit.log("connector_test", connector_id=connector_id, user=user)
        else:
            self.audit.log(
                "connector_test",
                connector_id=connector_id,
                user=user,
                error_code=(result.failure.value if result.failure else "failed"),
                error_message=result.message,
                redact=redact,
            )
        return result

    def _resolve_or_failure(self, record: StoredConnector) -> ValidatedConnector | TestResult:
        try:
            validated = self._resolve(record)
            self._check_hosts(validated)
        except (DecryptionError, MissingSecretsError) as exc:
            log.warning("connector %s: %s", record.id, exc.message)
            return TestResult(
                ok=False,
                message=exc.message,
                failure=FailureKind.CONFIG,
                details={"error": type(exc).__name__},
            )
        except BadRequestError as exc:
            return TestResult(ok=False, message=exc.message, failure=FailureKind.CONFIG)
        except HostNotAllowedError as exc:
            return TestResult(ok=False, message=str(exc), failure=FailureKind.HOST_NOT_ALLOWED)
        return validated

    async def _run_test(self, validated: ValidatedConnector, redact: Redactor) -> TestResult:
        timeout = self.settings.request_timeout
        # The runtime bounds each attempt; this bounds the whole test, retries included.
        deadline = timeout * max(1, self.settings.max_attempts) + 30.0
        try:
            async with asyncio.timeout(deadline):
                result = await self.runtime.test(validated, timeout=timeout)
        except TimeoutError:
            return TestResult(
                ok=False,
                message=f"the test did not finish within {deadline:g} seconds",
                failure=FailureKind.TIMEOUT,
            )
        except HostNotAllowedError as exc:
            return TestResult(ok=False, message=redact(str(exc)), failure=FailureKind.HOST_NOT_ALLOWED)
        except ProviderError as exc:
            return TestResult(ok=False, message=redact(exc.message), failure=exc.kind, status_code=exc.status)
        except (ConfigValidationError, UnsupportedTaskError, ContextWindowExceededError) as exc:
            return TestResult(ok=False, message=redact(str(exc)), failure=FailureKind.CONFIG)
        except Exception as exc:
            text = redact(f"{type(exc).__name__}: {exc}")
            log.error("connector %s: the test failed unexpectedly: %s", validated.connector_id, text)
            return TestResult(
                ok=False, message=f"internal error while testing: {text}", failure=FailureKind.PROVIDER_ERROR
            )
        clean = redact(result.message)
        if clean != result.message:
            result = TestResult(
                ok=result.ok,
                message=clean,
                latency_ms=result.latency_ms,
                failure=result.failure,
                status_code=result.status_code,
                details=result.details,
            )
        return result

    # -- execute ---------------------------------------------------------------------------------

    async def _runnable(self, connector_id: str) -> tuple[str, ValidatedConnector | HostError, Redactor]:
        """(name, connector or the typed reason it cannot run, its redactor). NotFoundError and the
        gates raise. A saved connector comes from its ready-to-run state: no thread hop and no
        decryption while that state is fresh (see the module docstring)."""
        pc = self.preconfigured.get(connector_id)
        if pc is not None:
            self._gate(pc.connector.provider.id)
            return pc.name, pc.connector, self._preconfigured_redactors[connector_id]
        ready = self._ready.get(connector_id)
        if ready is None or time.monotonic() - ready.checked_at >= self.settings.revalidate_interval:
            ready = await self._read_ready(connector_id)
        self._gate(ready.provider_id)
        return ready.name, ready.runnable, ready.redact

    async def _read_ready(self, connector_id: str) -> _Ready:
        """Read the row (in a worker thread) and rebuild the state if the row changed.

        Concurrent callers share a read that began within `revalidate_interval` (so never with 0).
        """
        now = time.monotonic()
        reading = self._reading.get(connector_id)
        if reading is not None and now - reading[0] <= self.settings.revalidate_interval:
            return await asyncio.shield(reading[1])
        task = asyncio.ensure_future(self._load_ready(connector_id, now))
        task.add_done_callback(_retrieve)  # a read nobody waits for any more must not warn
        self._reading[connector_id] = (now, task)
        return await asyncio.shield(task)

    async def _load_ready(self, connector_id: str, started: float) -> _Ready:
        generation = self._generation
        known = self._ready.get(connector_id)
        try:
            ready = await asyncio.to_thread(self._build_ready, connector_id, known, started)
        except BaseException:
            if self._generation == generation:
                self._ready.pop(connector_id, None)
            raise
        finally:
            reading = self._reading.get(connector_id)
            if reading is not None and reading[0] == started:
                del self._reading[connector_id]
        # A row this host changed while the read ran: the read may predate the change, so it is
        # used by the calls that waited for it (they began before the change returned) but not kept.
        if self._generation == generation and not self._closed:
            self._ready.pop(connector_id, None)  # re-inserted last: the least recently checked go first
            self._ready[connector_id] = ready
            while len(self._ready) > _READY_MAX:
                del self._ready[next(iter(self._ready))]
        return ready

    def _build_ready(self, connector_id: str, known: _Ready | None, started: float) -> _Ready:
        """In a worker thread: the stored row, and the state built from it (reused if unchanged)."""
        record = self.store.require(connector_id)  # NotFoundError: deleted, here or by another host
        key = _row_key(record)
        if known is not None and known.row == key:
            return _Ready(key, known.name, known.provider_id, known.runnable, known.redact, started)
        provider_id = record.config.get("provider")
        runnable: ValidatedConnector | HostError
        try:
            runnable = self._resolve(record)
            redact = self._redactor(runnable)
        except HostError as exc:
            if isinstance(exc, DecryptionError):
                log.warning("connector %s: %s", connector_id, exc.message)
            runnable, redact = exc, Redactor()
        return _Ready(key, record.name, provider_id, runnable, redact, started)

    def _forget(self, connector_id: str | None = None) -> None:
        """Drop ready-to-run state after this host changed a row (`None`: every row)."""
        self._generation += 1
        if connector_id is None:
            self._ready.clear()
            self._reading.clear()
        else:
            self._ready.pop(connector_id, None)
            self._reading.pop(connector_id, None)

    async def execute(
        self,
        connector_id: str,
        sub_action: str | None,
        params: Mapping[str, Any] | None,
        *,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Run a sub-action; Kibana's `_execute` body either way.

        Success: `{"status": "ok", "connector_id", "data"}`. A connector-level failure is not an
        exception: `{"status": "error", "connector_id", "message", "service_message", "retry",
        "errorSource"}` (params errors have no `service_message`, as in Kibana). Raises only for an
        unknown connector (404) and the license/enabled gates (403).
        """
        try:
            name, runnable, redact = await self._runnable(connector_id)
        except BaseException as exc:
            self._audit_failure("connector_execute", connector_id, exc, user, Redactor(), defer=True)
            raise
        outcome = await self._execute(connector_id, name, runnable, sub_action, params, redact)
        if outcome["status"] == "ok":
            self.audit.log("connector_execute", connector_id=connector_id, user=user, defer=True)
        else:
            self.audit.log(
                "connector_execute",
                connector_id=connector_id,
                user=user,
                error_code=outcome.pop("_code"),
                error_message=outcome.get("service_message") or outcome["message"],
                redact=redact,
                defer=True,
            )
        return outcome

    async def _execute(
        self,
        connector_id: str,
        name: str,
        runnable: ValidatedConnector | HostError,
        sub_action: str | None,
        params: Mapping[str, Any] | None,
        redact: Redactor,
    ) -> dict[str, Any]:
        def error(
            message: str, *, service_message: str | None, retry: bool, source: str, code: str
        ) -> dict[str, Any]:
            out: dict[str, Any] = {"status": "error", "connector_id": connector_id, "message": message}
            if service_message is not None:
                out["service_message"] = redact(service_message)
            out["retry"] = retry
            out["errorSource"] = source
            out["_code"] = code
            return out

        if not isinstance(sub_action, str):
            got = "undefined" if sub_action is None else type(sub_action).__name__
            return error(
                "error validating action params: [subAction]: expected value of type [string] "
                f"but got [{got}]",
                service_message=None,
                retry=False,
                source="framework",
                code="ValidationError",
            )
        if sub_action not in KIBANA_SUB_ACTIONS:
            return error(
                _RUNNING_ERROR,
                service_message=(
                    f'Sub action "{sub_action}" is not registered. Connector id: {connector_id}. '
                    f"Connector name: {name}. Connector type: {CONNECTOR_TYPE_ID}"
                ),
                retry=True,  # Kibana's answer for an unregistered sub-action
                source="framework",
                code="UnknownSubActionError",
            )
        if isinstance(runnable, HostError):
            return error(
                _RUNNING_ERROR,
                service_message=runnable.message,
                retry=False,
                source=error_source(runnable),
                code=type(runnable).__name__,
            )
        if params is not None and not isinstance(params, Mapping):
            return error(
                "error validating action params: [subActionParams]: expected an object",
                service_message=None,
                retry=False,
                source="framework",
                code="ValidationError",
            )
        timeout = self.settings.request_timeout
        try:
            self._check_hosts(runnable)
            if sub_action == STREAM_SUB_ACTION:
                data: Any = [
                    c async for c in self.runtime.stream(runnable, dict(params or {}), timeout=timeout)
                ]
            else:
                data = await self.runtime.execute(runnable, sub_action, dict(params or {}), timeout=timeout)
        except ConfigValidationError as exc:
            return error(
                _params_message(exc),
                service_message=None,
                retry=False,
                source="framework",
                code="ValidationError",
            )
        except ProviderError as exc:
            return error(
                _RUNNING_ERROR,
                service_message=exc.message,
                retry=bool(exc.retryable),
                source=error_source(exc),
                code=type(exc).__name__,
            )
        except (HostNotAllowedError, UnsupportedTaskError, ContextWindowExceededError) as exc:
            return error(
                _RUNNING_ERROR, service_message=str(exc), retry=False, source="user", code=type(exc).__name__
            )
        except HostError as exc:
            return error(
                _RUNNING_ERROR,
                service_message=exc.message,
                retry=False,
                source=error_source(exc),
                code=type(exc).__name__,
            )
        except Exception as exc:
            text = redact(f"{type(exc).__name__}: {exc}")
            log.error("connector %s: %s failed unexpectedly: %s", connector_id, sub_action, text)
            return error(
                _RUNNING_ERROR, service_message=text, retry=False, source="framework", code=type(exc).__name__
            )
        out: dict[str, Any] = {"status": "ok", "connector_id": connector_id}
        if data is not None:
            out["data"] = data
        return out

    def stream(
        self, connector_id: str, params: Mapping[str, Any], *, user: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """`unified_completion_stream`: OpenAI `chat.completion.chunk` dicts.

        Checks happen when iteration starts, so the first `__anext__` raises NotFoundError (404),
        ForbiddenError (403), BadRequestError (params, task type) or the typed reason the connector
        cannot run (DecryptionError, MissingSecretsError, HostNotAllowedError); later failures are
        the provider's typed errors. Closing the iterator early cancels the upstream call.
        """
        return self._stream(connector_id, params, user)

    async def _stream(
        self, connector_id: str, params: Mapping[str, Any], user: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        redact = Redactor()
        try:
            _name, runnable, redactor = await self._runnable(connector_id)
            if isinstance(runnable, HostError):
                raise runnable.with_traceback(None)  # kept with the state: no traceback piles up
            redact = redactor
            self._check_hosts(runnable)
            if params is not None and not isinstance(params, Mapping):
                raise BadRequestError("error validating action params: [subActionParams]: expected an object")
            chunks = self.runtime.stream(runnable, dict(params or {}), timeout=self.settings.request_timeout)
            try:
                first = await anext(chunks, None)
            except ConfigValidationError as exc:
                raise BadRequestError(_params_message(exc), exc.errors) from None
            except UnsupportedTaskError as exc:
                raise BadRequestError(str(exc)) from None
        except BaseException as exc:
            self._audit_failure("connector_execute", connector_id, exc, user, redact, defer=True)
            raise
        try:
            if first is not None:
                yield first
                async for chunk in chunks:
                    yield chunk
        except GeneratorExit:
            # The consumer went away (client disconnect): close the upstream call now.
            await _aclose(chunks)
            self.audit.log(
                "connector_execute",
                connector_id=connector_id,
                user=user,
                error_code="StreamCancelled",
                error_message="the client closed the stream",
                defer=True,
            )
            raise
        except BaseException as exc:
            await _aclose(chunks)
            self._audit_failure("connector_execute", connector_id, exc, user, redact, defer=True)
            raise
        self.audit.log("connector_execute", connector_id=connector_id, user=user, defer=True)

    # -- keys --------------------------------------------------------------------------------------

    async def rotate_key(self, *, batch_size: int = 10_000) -> dict[str, int]:
        """Re-encrypt every connector's secrets with the primary key (Kibana's `_rotate_key`).

        `total` counts connectors holding secrets, `successful` those now encrypted with the primary
        key, `failed` those that could not be (secrets no key opens, or a row that kept changing);
        a failure is logged with the connector id and never stops the rotation. `batch_size` is
        capped at 10,000 as in Kibana.
        """
        batch_size = max(1, min(int(batch_size), 10_000))
        try:
            result = await asyncio.to_thread(self._rotate, batch_size)
        finally:
            self._forget()
        self.unknown_key_ids = {}
        await asyncio.to_thread(self._check_keys)
        return result

    def _rotate(self, batch_size: int) -> dict[str, int]:
        total = successful = failed = 0
        for batch in self.store.batches(batch_size):
            for record in batch:
                if record.secrets is None:
                    continue
                total += 1
                current: StoredConnector | None = record
                for _attempt in range(3):
                    assert current is not None
                    try:
                        secrets = self._decrypt(current)
                    except HostError as exc:
                        log.warning("rotate-key: connector %s: %s", current.id, exc.message)
                        failed += 1
                        break
                    token = self.cipher.encrypt(
                        secrets,
                        connector_id=current.id,
                        connector_type=current.connector_type_id,
                        config=current.config,
                    )
                    if self.store.replace_secrets(
                        current.id, expected_version=current.version, secrets=token
                    ):
                        successful += 1
                        break
                    current = self.store.get(current.id)  # changed meanwhile: read it again
                    if current is None or current.secrets is None:
                        total -= 1  # deleted (or stripped) while rotating: nothing left to rotate
                        break
                else:
                    log.warning("rotate-key: connector %s kept changing; not rotated", record.id)
                    failed += 1
        log.info("rotate-key: total=%d successful=%d failed=%d", total, successful, failed)
        return {"total": total, "successful": successful, "failed": failed}

    # -- connector types -------------------------------------------------------------------------

    def connector_types(self) -> list[dict[str, Any]]:
        """`GET /api/actions/connector_types`: the one `.inference` type and whether it is usable."""
        in_config = is_type_enabled_in_config(self.settings.enabled_connector_types)
        in_license = self.license_state.enabled_in_license(MINIMUM_LICENSE_REQUIRED)
        return [
            {
                "id": CONNECTOR_TYPE_ID,
                "name": CONNECTOR_TYPE_NAME,
                "enabled": in_config and in_license,
                "enabled_in_config": in_config,
                "enabled_in_license": in_license,
                "minimum_license_required": MINIMUM_LICENSE_REQUIRED,
                "supported_feature_ids": list(SUPPORTED_FEATURE_IDS),
                "is_system_action_type": False,
                "is_deprecated": False,
            }
        ]


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's exception as seen (its waiters may all have been cancelled)."""
    if not task.cancelled():
        task.exception()


async def _aclose(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # closing after a failure must not hide the failure
            log.debug("closing an upstream stream failed", exc_info=True)


def _with_provider_env(settings: HostSettings, registry: ProviderRegistry) -> HostSettings:
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


def _load_preconfigured(
    settings: HostSettings, registry: ProviderRegistry, runtime: Runtime
) -> dict[str, PreconfiguredConnector]:
    out: dict[str, PreconfiguredConnector] = {}
    for cid, entry in settings.preconfigured.items():
        config = {
            k: entry[k]
            for k in (
                "provider",
                "taskType",
                "inferenceId",
                "providerConfig",
                "taskTypeConfig",
                "contextWindowLength",
                "temperature",
                "headers",
            )
            if k in entry
        }
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
                url_policy=runtime.url_policy,
                host_settings=settings.provider_settings,
                connector_id=cid,
            )
        except ConfigValidationError as exc:
            raise SettingsError(
                f"[preconfigured.{cid}] in {settings.config_file_path} is invalid: {_field_text(exc.errors)}"
            ) from None
        out[cid] = PreconfiguredConnector(cid, validated, bool(entry.get("exposeConfig", False)))
    return out


# ---------------------------------------------------------------------------------------------
# The blocking facade


class _LoopThread:
    """An event loop in a daemon thread; coroutines are submitted to it and awaited from outside."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="ai-connector-service", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Awaitable[T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result()

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()


class SyncConnectorService:
    """The same methods as ConnectorService, blocking: an event loop runs in a background thread.

    `with SyncConnectorService.open() as service: service.create({...})`.
    """

    def __init__(self, service: ConnectorService, loop: _LoopThread) -> None:
        self._service = service
        self._loop = loop

    @classmethod
    def open(
        cls,
        settings: HostSettings | None = None,
        *,
        registry: ProviderRegistry | None = None,
        runtime: Runtime | None = None,
        license_state: LicenseState | None = None,
    ) -> SyncConnectorService:
        """Open a ConnectorService on a background loop (`runtime`, if given, must be the async one)."""
        loop = _LoopThread()
        try:
            service = loop.run(
                ConnectorService.open(
                    settings, registry=registry, runtime=runtime, license_state=license_state
                )
            )
        except BaseException:
            loop.stop()
            raise
        return cls(service, loop)

    @property
    def service(self) -> ConnectorService:
        """The async service underneath."""
        return self._service

    @property
    def settings(self) -> HostSettings:
        """The host's settings."""
        return self._service.settings

    @property
    def registry(self) -> ProviderRegistry:
        """The provider registry."""
        return self._service.registry

    @property
    def runtime(self) -> Runtime:
        """The (async) runtime the service calls."""
        return self._service.runtime

    def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._loop.run(fn(*args, **kwargs))

    def create(
        self, body: Mapping[str, Any], *, connector_id: str | None = None, user: str | None = None
    ) -> dict[str, Any]:
        """See ConnectorService.create."""
        return self._call(self._service.create, body, connector_id=connector_id, user=user)

    def get(self, connector_id: str, *, user: str | None = None) -> dict[str, Any]:
        """See ConnectorService.get."""
        return self._call(self._service.get, connector_id, user=user)

    def list(self, *, user: str | None = None) -> list[dict[str, Any]]:
        """See ConnectorService.list."""
        return self._call(self._service.list, user=user)

    def details(self, connector_id: str) -> dict[str, Any]:
        """See ConnectorService.details."""
        return self._call(self._service.details, connector_id)

    def update(
        self,
        connector_id: str,
        body: Mapping[str, Any],
        *,
        user: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """See ConnectorService.update."""
        return self._call(
            self._service.update, connector_id, body, user=user, expected_version=expected_version
        )

    def delete(
        self, connector_id: str, *, user: str | None = None, expected_version: int | None = None
    ) -> None:
        """See ConnectorService.delete."""
        self._call(self._service.delete, connector_id, user=user, expected_version=expected_version)

    def test(
        self,
        connector_id: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> TestResult:
        """See ConnectorService.test."""
        return self._call(self._service.test, connector_id, body=body, user=user)

    def execute(
        self,
        connector_id: str,
        sub_action: str | None,
        params: Mapping[str, Any] | None,
        *,
        user: str | None = None,
    ) -> dict[str, Any]:
        """See ConnectorService.execute."""
        return self._call(self._service.execute, connector_id, sub_action, params, user=user)

    def stream(
        self, connector_id: str, params: Mapping[str, Any], *, user: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """See ConnectorService.stream; a blocking iterator (close it to cancel the upstream call)."""
        agen = self._service.stream(connector_id, params, user=user)
        done = object()

        async def step() -> Any:
            return await anext(agen, done)

        async def close() -> None:
            await agen.aclose()  # type: ignore[attr-defined]

        try:
            while True:
                item = self._loop.run(step())
                if item is done:
                    return
                yield item
        finally:
            self._loop.run(close())

    def rotate_key(self, *, batch_size: int = 10_000) -> dict[str, int]:
        """See ConnectorService.rotate_key."""
        return self._call(self._service.rotate_key, batch_size=batch_size)

    def connector_types(self) -> list[dict[str, Any]]:
        """See ConnectorService.connector_types."""
        return self._service.connector_types()

    def close(self) -> None:
        """Close the service and stop its loop."""
        try:
            self._loop.run(self._service.aclose())
        finally:
            self._loop.stop()

    def __enter__(self) -> SyncConnectorService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
