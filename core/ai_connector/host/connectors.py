"""ConnectorService: saved connectors with Kibana's rules, for host applications (async and sync).

The service is what the HTTP API and the CLI call. It applies Kibana's actions-framework rules
(Kibana's actions plugin): license and `enabled_connector_types` gates (403), validation with every
field error (400), preconfigured connectors that cannot be changed (400), optimistic versions (409),
write-only secrets encrypted at rest, the provider's save/delete hooks, *Save & test* with its result
kept beside the connector, `_execute`'s response shapes, an audit line for every operation, and
every `_execute` and `_test` in the execution log (Kibana's event log, `ai_connector.host.execlog`).
Each of those jobs has its own module in `ai_connector.host`; this one puts them in order.

Responses are Kibana's connector objects exactly: no field carries a secret, ever.

Where this differs from Kibana, on purpose:
- the license/enabled gate runs before body validation (Kibana validates first), so a host whose
  license refuses `.inference` answers 403 without looking at the body;
- an update keeps the stored `inferenceId` when the body omits it, and refuses a change of `provider`,
  `taskType` or `inferenceId` (the connector owns that inference endpoint) with a 400;
- a test or execution whose stored secrets cannot be decrypted answers with a typed, actionable
  failure (TestResult / `status: "error"`) instead of Kibana's generic 500.

`execute` and `stream` run a saved connector from its ready-to-run state, which another host's
change reaches within `revalidate_interval` seconds (see `ai_connector.host.ready`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ai_connector.errors import (
    ConfigValidationError,
    HostNotAllowedError,
    ProviderError,
    UnsupportedTaskError,
)
from ai_connector.host.audit import AuditLog
from ai_connector.host.crypto import SecretCipher, cipher_for
from ai_connector.host.errors import BadRequestError, ConflictError, HostError
from ai_connector.host.execution import Executor
from ai_connector.host.license import CONNECTOR_TYPE_ID, LicenseState, ensure_type_enabled
from ai_connector.host.preconfigured import PreconfiguredConnector, load_preconfigured, with_provider_env
from ai_connector.host.ready import ReadyStates
from ai_connector.host.resolve import (
    Resolver,
    body_secrets,
    redactor,
    refuse_unknown_update_keys,
    update_document,
)
from ai_connector.host.responses import (
    connector_types,
    listed,
    preconfigured_response,
    saved_response,
)
from ai_connector.host.rotation import rotate, unknown_key_ids
from ai_connector.host.savetest import log_test, resolve_for_test, run_test
from ai_connector.host.settings import HostSettings
from ai_connector.host.store import ConnectorStore, StoredConnector
from ai_connector.host.telemetry import open_execution_log
from ai_connector.types import TestResult
from ai_connector.validation import ValidatedConnector

if TYPE_CHECKING:
    from ai_connector.host.execlog import ExecutionLog
    from ai_connector.manager import ProviderRegistry
    from ai_connector.runtime import Runtime

__all__ = ["ConnectorService"]

log = logging.getLogger("ai_connector.host")

_NOT_AN_OBJECT = "error validating connector type config: the body must be a JSON object"


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
        self._resolver = Resolver(settings, registry, cipher, runtime.url_policy)
        self._ready = ReadyStates(store, self._resolver, lambda: self.settings.revalidate_interval)
        self._executor = Executor(
            settings=settings,
            runtime=runtime,
            resolver=self._resolver,
            ready=self._ready,
            preconfigured=self.preconfigured,
            audit=audit,
            gate=self._gate,
        )

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
        settings = with_provider_env(settings, registry)
        owns_runtime = runtime is None
        if runtime is None:
            from ai_connector.runtime import Runtime

            runtime = Runtime(registry, settings.runtime_settings())
        store: ConnectorStore | None = None
        try:
            await asyncio.to_thread(settings.home.mkdir, parents=True, exist_ok=True, mode=0o700)
            cipher = await asyncio.to_thread(cipher_for, settings)
            store = await asyncio.to_thread(ConnectorStore.open, settings.database_url)
            preconfigured = load_preconfigured(settings, registry, runtime.url_policy)
            execlog = await asyncio.to_thread(open_execution_log, store.engine)
        except BaseException:
            if store is not None:
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
        service.execlog = execlog
        service.unknown_key_ids = await asyncio.to_thread(unknown_key_ids, store, cipher)
        return service

    async def aclose(self) -> None:
        """Close the store (and the runtime, when the service created it)."""
        if self._closed:
            return
        self._closed = True
        self._ready.closed = True
        self._ready.forget()
        try:
            if self._owns_runtime:
                await self.runtime.aclose()
            if self.execlog is not None:  # its waiting rows first, while the store is open
                await asyncio.to_thread(self.execlog.close)
            await asyncio.to_thread(self.store.close)
        finally:
            self.audit.close()

    @property
    def execlog(self) -> ExecutionLog | None:
        """The execution log (Kibana's event log; `host.execlog`), None when it and every export are off."""
        return self._executor.execlog

    @execlog.setter
    def execlog(self, execlog: ExecutionLog | None) -> None:
        self._executor.execlog = execlog

    async def __aenter__(self) -> ConnectorService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- shared pieces ---------------------------------------------------------------------------

    def _gate(self, provider_id: str | None) -> None:
        ensure_type_enabled(self.settings.enabled_connector_types, self.license_state, provider_id)

    def _gate_body(self, body: Mapping[str, Any]) -> None:
        """The gates for the provider a raw body names (before validation, unlike Kibana)."""
        config = body.get("config")
        provider_id = config.get("provider") if isinstance(config, Mapping) else None
        self._gate(provider_id if isinstance(provider_id, str) else None)

    async def _run_hook(self, validated: ValidatedConnector, hook: str, *, is_update: bool = False) -> None:
        """The provider's on_save hook; any failure aborts the save with a 400 naming the reason."""
        try:
            await self.runtime.run_hook(validated, hook, is_update=is_update)
        except HostError:
            raise
        except ProviderError as exc:
            raise BadRequestError(redactor(validated)(exc.message)) from None
        except (HostNotAllowedError, ConfigValidationError, UnsupportedTaskError) as exc:
            raise BadRequestError(redactor(validated)(str(exc))) from None
        except Exception as exc:
            text = redactor(validated)(f"{type(exc).__name__}: {exc}")
            raise BadRequestError(f"the {validated.provider.name} save hook failed: {text}") from None

    async def _delete_hook(self, validated: ValidatedConnector) -> None:
        try:
            await self.runtime.run_hook(validated, "on_delete")
        except Exception as exc:
            log.warning(
                "connector %s: the %s delete hook failed (ignored): %s",
                validated.connector_id,
                validated.provider.id,
                redactor(validated)(f"{type(exc).__name__}: {exc}"),
            )

    async def _record(self, connector_id: str) -> StoredConnector:
        return await asyncio.to_thread(self.store.require, connector_id)

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
        hook_ran: ValidatedConnector | None = None
        try:
            with self.audit.failures(
                "connector_create", connector_id=cid, user=user, redact=redactor(body_secrets(body))
            ) as scope:
                if not isinstance(body, Mapping):
                    raise BadRequestError(_NOT_AN_OBJECT)
                type_id = body.get("connector_type_id", CONNECTOR_TYPE_ID)
                if type_id != CONNECTOR_TYPE_ID:
                    raise BadRequestError(f'Action type "{type_id}" is not registered.')
                if cid in self.preconfigured:
                    raise BadRequestError(f"This {cid} already exists in a preconfigured action.")
                self._gate_body(body)
                # Unknown keys stay in: the connector schema refuses them with a field error.
                document = {k: v for k, v in body.items() if k != "id"}
                document["id"] = cid
                document.setdefault("connector_type_id", CONNECTOR_TYPE_ID)
                validated = self._resolver.validate(document, cid)
                self._gate(validated.provider.id)
                scope.redact = redactor(validated, body_secrets(body))
                if await asyncio.to_thread(self.store.exists, cid):
                    raise ConflictError.connector(cid)
                await self._run_hook(validated, "on_save", is_update=False)
                hook_ran = validated
                self.audit.log(
                    "connector_create", connector_id=cid, outcome="unknown", user=user, required=True
                )
                token = self._resolver.encrypt(cid, validated)
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
                    self._ready.forget(cid)
        except BaseException:
            if hook_ran is not None:
                # Kibana's postSaveHook: a failed create removes what the save hook made.
                await self._delete_hook(hook_ran)
            raise
        self.audit.log("connector_create", connector_id=cid, user=user)
        return saved_response(record, missing=False)

    # -- read ------------------------------------------------------------------------------------

    async def get(self, connector_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Kibana's connector object for one saved or preconfigured connector (404 when unknown)."""
        with self.audit.failures("connector_get", connector_id=connector_id, user=user, defer=True):
            pc = self.preconfigured.get(connector_id)
            if pc is not None:
                response = preconfigured_response(pc)
            else:
                record = await self._record(connector_id)
                missing = await asyncio.to_thread(self._resolver.is_missing_secrets, record)
                response = saved_response(record, missing=missing)
        self.audit.log("connector_get", connector_id=connector_id, user=user, defer=True)
        return response

    async def list_all(self, *, user: str | None = None) -> list[dict[str, Any]]:
        """Every connector, saved and preconfigured, sorted by name, with `referenced_by_count: 0`."""
        with self.audit.failures("connector_find", connector_id=None, user=user, defer=True):
            records = await asyncio.to_thread(self.store.list_all)

            def responses() -> list[dict[str, Any]]:
                missing = self._resolver.is_missing_secrets
                return [listed(saved_response(r, missing=missing(r))) for r in records]

            saved = await asyncio.to_thread(responses)
        for r in records:
            self.audit.log("connector_find", connector_id=r.id, user=user, defer=True)
        merged = saved + [preconfigured_response(pc, listing=True) for pc in self.preconfigured.values()]
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
    ) -> dict[str, Any]:
        """Replace name, config and secrets (Kibana's PUT: secrets must be sent again).

        Provider, task type and inference endpoint id are fixed (400 if changed; omitted ones are
        kept). With `expected_version` the update applies only to that version; without it, to the
        version read here — either way a concurrent change is a 409, never a silent overwrite.
        """
        with self.audit.failures(
            "connector_update", connector_id=connector_id, user=user, redact=redactor(body_secrets(body))
        ) as scope:
            if connector_id in self.preconfigured:
                raise BadRequestError(f"Preconfigured action {connector_id} can not be updated.")
            if not isinstance(body, Mapping):
                raise BadRequestError(_NOT_AN_OBJECT)
            refuse_unknown_update_keys(body)
            record = await self._record(connector_id)
            version = record.version if expected_version is None else expected_version
            if version != record.version:
                raise ConflictError.connector(connector_id)
            document = update_document(body, record)
            self._gate(record.config.get("provider"))
            validated = self._resolver.validate(document, connector_id)
            scope.redact = redactor(validated, body_secrets(body))
            await self._run_hook(validated, "on_save", is_update=True)
            self.audit.log(
                "connector_update", connector_id=connector_id, outcome="unknown", user=user, required=True
            )
            token = self._resolver.encrypt(connector_id, validated)
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
                self._ready.forget(connector_id)  # the next execute reads the row this update wrote
        self.audit.log("connector_update", connector_id=connector_id, user=user)
        return saved_response(updated, missing=False)

    # -- delete ----------------------------------------------------------------------------------

    async def delete(
        self, connector_id: str, *, user: str | None = None, expected_version: int | None = None
    ) -> None:
        """Delete a saved connector (Kibana answers 204), then run the provider's delete hook.

        Preconfigured: 400. Unknown: 404. Changed since read (or not at `expected_version`): 409.
        Hook failures are logged, not fatal (Kibana's postDeleteHook).
        """
        with self.audit.failures("connector_delete", connector_id=connector_id, user=user):
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
                self._ready.forget(connector_id)
        self.audit.log("connector_delete", connector_id=connector_id, user=user)
        validated = await asyncio.to_thread(self._resolver.resolve_for_hook, record)
        if validated is not None:
            await self._delete_hook(validated)

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
        redact, started = redactor(body_secrets(body)), time.time_ns()
        with self.audit.failures("connector_test", connector_id=connector_id, user=user, redact=redact):
            to_test, record = await self._to_test(connector_id, body)
        if isinstance(to_test, TestResult):
            result = to_test
        else:
            redact = redactor(to_test, body_secrets(body))
            result = await run_test(self.runtime, self.settings, to_test, redact)
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
        name = record.name if record is not None else getattr(to_test, "name", "")
        log_test(self.audit, self.execlog, connector_id, name, to_test, started, result, user, redact)
        return result

    async def _to_test(
        self, connector_id: str | None, body: Mapping[str, Any] | None
    ) -> tuple[ValidatedConnector | TestResult, StoredConnector | None]:
        """What `test` runs (or the failed TestResult saying why it cannot), and the saved row that
        keeps the result. The gates and a body's validation raise."""
        if body is not None:
            if not isinstance(body, Mapping):
                raise BadRequestError(_NOT_AN_OBJECT)
            self._gate_body(body)
            validated = self._resolver.validate({k: v for k, v in body.items() if k != "id"}, None)
            self._gate(validated.provider.id)
            return validated, None
        assert connector_id is not None
        pc = self.preconfigured.get(connector_id)
        if pc is not None:
            self._gate(pc.connector.provider.id)
            return pc.connector, None
        record = await self._record(connector_id)
        self._gate(record.config.get("provider"))
        return await asyncio.to_thread(resolve_for_test, self._resolver, record), record

    # -- execute ---------------------------------------------------------------------------------

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
        return await self._executor.execute(connector_id, sub_action, params, user=user)

    def stream(
        self, connector_id: str, params: Mapping[str, Any], *, user: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """`unified_completion_stream`: OpenAI `chat.completion.chunk` dicts.

        Checks happen when iteration starts, so the first `__anext__` raises NotFoundError (404),
        ForbiddenError (403), BadRequestError (params, task type) or the typed reason the connector
        cannot run (DecryptionError, MissingSecretsError, HostNotAllowedError); later failures are
        the provider's typed errors. Closing the iterator early cancels the upstream call.
        """
        return self._executor.stream(connector_id, params, user=user)

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
            result = await asyncio.to_thread(rotate, self.store, self._resolver, batch_size)
        finally:
            self._ready.forget()
        self.unknown_key_ids = {}
        self.unknown_key_ids = await asyncio.to_thread(unknown_key_ids, self.store, self.cipher)
        return result

    # -- connector types -------------------------------------------------------------------------

    def connector_types(self) -> list[dict[str, Any]]:
        """`GET /api/actions/connector_types`: the one `.inference` type and whether it is usable."""
        return connector_types(self.settings.enabled_connector_types, self.license_state)

    # Last in the class, so no annotation above means this method: `list[...]` stays the builtin.
    list = list_all  # the name tests and scripts call
