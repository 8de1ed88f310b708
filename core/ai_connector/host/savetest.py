"""*Save & test*'s test: everything about the connector itself becomes a failed TestResult.

Its secrets, its hosts, the provider's answer and the timeout are the connector's business, so
they are reported as a TestResult (with a failure kind a UI can act on), never raised; the message
is redacted with the connector's own secrets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ai_connector.errors import (
    ConfigValidationError,
    ContextWindowExceededError,
    HostNotAllowedError,
    ProviderError,
    UnsupportedTaskError,
)
from ai_connector.host.errors import BadRequestError, DecryptionError, MissingSecretsError
from ai_connector.host.execlog import connector_test_record
from ai_connector.host.resolve import Resolver
from ai_connector.host.store import StoredConnector
from ai_connector.redaction import Redactor
from ai_connector.types import FailureKind, TestResult
from ai_connector.validation import ValidatedConnector

if TYPE_CHECKING:
    from ai_connector.host.audit import AuditLog
    from ai_connector.host.execlog import ExecutionLog
    from ai_connector.host.settings import HostSettings
    from ai_connector.runtime import Runtime

__all__ = ["log_test", "resolve_for_test", "run_test"]

log = logging.getLogger("ai_connector.host")


def resolve_for_test(resolver: Resolver, record: StoredConnector) -> ValidatedConnector | TestResult:
    """A saved connector ready to test, or the failed TestResult saying why it cannot run."""
    try:
        validated = resolver.resolve(record)
        resolver.check_hosts(validated)
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


async def run_test(
    runtime: Runtime, settings: HostSettings, validated: ValidatedConnector, redact: Redactor
) -> TestResult:
    """Run the provider's test routine, bounded as a whole (retries included) by the host's timeout."""
    timeout = settings.request_timeout
    # The runtime bounds each attempt; this bounds the whole test, retries included.
    deadline = timeout * max(1, settings.max_attempts) + 30.0
    try:
        async with asyncio.timeout(deadline):
            result = await runtime.test(validated, timeout=timeout)
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


def log_test(
    audit: AuditLog,
    execlog: ExecutionLog | None,
    connector_id: str | None,
    name: str,
    tested: ValidatedConnector | TestResult,
    started_ns: int,
    result: TestResult,
    user: str | None,
    redact: Redactor,
) -> None:
    """The test's audit line, and its execution-log record (an unsaved connector's has no id)."""
    if result.ok:
        audit.log("connector_test", connector_id=connector_id, user=user)
    else:
        audit.log(
            "connector_test",
            connector_id=connector_id,
            user=user,
            error_code=(result.failure.value if result.failure else "failed"),
            error_message=result.message,
            redact=redact,
        )
    if execlog is not None:
        execlog.record(
            connector_test_record(
                connector_id=connector_id or "",
                name=name,
                connector=tested,
                started_ns=started_ns,
                result=result,
                user=user,
            )
        )
