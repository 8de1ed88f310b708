"""The audit log: one JSON object per line, in the shape of Kibana's connector audit events (the
actions plugin's `lib/audit_events.ts`).

Event names are Kibana's (`connector_create`, `_get`, `_update`, `_delete`, `_find`, `_execute`) plus
`connector_test` for *Save & test*. Writes emit `outcome: "unknown"` before the change ("User is
creating connector [id=...]") and then `success` or `failure`. An event names the connector id and
type and the user; it never carries config values or secrets, and `error.message` is redacted
(known secret values and secret-looking patterns) and capped, because upstream errors can echo a
key.

If the log cannot be written, a mutation is refused (fails closed) and a read goes on with a warning.

Buffering. Every event is recorded; what differs is when its line reaches the file:
- `log()` writes at once (create, update, delete, test, denied writes): the line is in the file
  before the call returns, after every line buffered before it, so the file keeps the order.
- `log(..., defer=True)` (execute, get, list: the hot paths) appends the line to a buffer that is
  written in one `write()` by a worker thread `flush_interval` seconds later, when `max_pending`
  lines are waiting, before any immediate line, on `close()`, and at interpreter exit. With
  `flush_interval=0`, or outside an event loop, deferred lines are written at once too.
A normal shutdown (the service closed, or the interpreter exiting) loses nothing. A crash (SIGKILL,
OOM kill, power loss) may lose the deferred lines of the last `flush_interval` seconds, at most
`max_pending` of them; immediate lines are in the kernel's hands before the call returns (as before,
there is no fsync per line, so a power loss may also lose what the OS had not yet written back).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ai_connector.host.errors import HostError
from ai_connector.redaction import Redactor

__all__ = ["ACTIONS", "AuditLog", "AuditScope", "flush_audit_logs"]

log = logging.getLogger("ai_connector.host.audit")

# action -> (present, progressive, past) verbs and ECS event.type, from Kibana's audit_events.ts
ACTIONS: dict[str, tuple[tuple[str, str, str], str | None]] = {
    "connector_create": (("create", "creating", "created"), "creation"),
    "connector_get": (("access", "accessing", "accessed"), "access"),
    "connector_update": (("update", "updating", "updated"), "change"),
    "connector_delete": (("delete", "deleting", "deleted"), "deletion"),
    "connector_find": (("access", "accessing", "accessed"), "access"),
    "connector_execute": (("execute", "executing", "executed"), None),
    "connector_test": (("test", "testing", "tested"), None),
}
_MAX_ERROR_MESSAGE = 1000
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one, not one per line
_LIVE: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@dataclass(slots=True)
class AuditScope:
    """What a failure inside `AuditLog.failures` is recorded with; `redact` grows as the operation
    learns which secrets it holds."""

    redact: Callable[[str], str] = field(default_factory=Redactor)


class AuditLog:
    """Appends audit events to a JSON-lines file (`None` path: events go to the logger only).

    `flush_interval` (seconds) and `max_pending` bound how long and how many deferred lines wait in
    memory (see the module docstring); `flush_interval=0` writes every line at once.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        connector_type: str = ".inference",
        flush_interval: float = 0.0,
        max_pending: int = 1000,
    ) -> None:
        self.path = path
        self.connector_type = connector_type
        self.flush_interval = max(0.0, float(flush_interval))
        self.max_pending = max(1, int(max_pending))
        # Writes hold the file lock and take the buffer under it, so lines reach the file in the
        # order they were logged; appending to the buffer never waits for a write.
        self._file_lock = threading.Lock()
        self._buffer_lock = threading.Lock()
        self._pending: list[str] = []
        self._timer: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None
        _LIVE.add(self)

    def event(
        self,
        action: str,
        *,
        connector_id: str | None = None,
        outcome: str | None = None,
        error: BaseException | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
        user: str | None = None,
        redact: Callable[[str], str] | None = None,
    ) -> dict[str, Any]:
        """The event as a dict (Kibana's `connectorAuditEvent`, plus user and connector)."""
        verbs, event_type = ACTIONS[action]
        doc = f"connector [id={connector_id}]" if connector_id else "a connector"
        failed = error is not None or error_code is not None or outcome == "failure"
        if failed:
            message = f"Failed attempt to {verbs[0]} {doc}"
            outcome = "failure"
        elif outcome == "unknown":
            message = f"User is {verbs[1]} {doc}"
        else:
            message = f"User has {verbs[2]} {doc}"
            outcome = "success"
        ecs: dict[str, Any] = {"action": action, "category": ["database"]}
        if event_type:
            ecs["type"] = [event_type]
        ecs["outcome"] = outcome
        event: dict[str, Any] = {
            "@timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "message": message,
            "event": ecs,
        }
        if connector_id:
            event["kibana"] = {"saved_object": {"type": "action", "id": connector_id}}
            event["connector"] = {"id": connector_id, "type": self.connector_type}
        if user:
            event["user"] = {"name": user}
        if failed:
            code = error_code or (type(error).__name__ if error is not None else "Error")
            text = error_message if error_message is not None else (str(error) if error else "")
            scrub = redact or Redactor()
            text = scrub(text)
            if len(text) > _MAX_ERROR_MESSAGE:
                text = text[:_MAX_ERROR_MESSAGE] + "... [truncated]"
            event["error"] = {"code": code, "message": text}
        return event

    def log(
        self, action: str, *, required: bool = False, defer: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """Record one event and return it.

        `required=True` (before a write) raises HostError if the log is unusable. `defer=True`
        lets the line wait in the buffer (for the hot read paths; never with `required`).
        """
        event = self.event(action, **kwargs)
        line = _encode(event) + "\n"
        if self.path is None:
            log.info("%s", line.rstrip())
            return event
        if defer and not required and self.flush_interval > 0:
            with self._buffer_lock:
                self._pending.append(line)
                waiting = len(self._pending)
            if waiting >= self.max_pending:
                self.flush()
            else:
                self._schedule()
            return event
        self._write([line], required=required)
        return event

    @contextmanager
    def failures(
        self,
        action: str,
        *,
        connector_id: str | None,
        user: str | None,
        redact: Callable[[str], str] | None = None,
        defer: bool = False,
    ) -> Iterator[AuditScope]:
        """Record a failure event for any exception leaving the block (then re-raise it).

        A generator closed by its consumer (GeneratorExit) is not a failure: the caller says what
        that means. Success is the caller's to record, after whatever else it does.
        """
        scope = AuditScope(redact or Redactor())
        try:
            yield scope
        except GeneratorExit:
            raise
        except BaseException as exc:
            self.log(
                action,
                connector_id=connector_id,
                error=exc,
                error_code=type(exc).__name__,
                user=user,
                redact=scope.redact,
                defer=defer,
            )
            raise

    def _schedule(self) -> None:
        """Arrange a flush `flush_interval` seconds from now on the running loop (once)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a blocking caller): nothing would flush it later
            self.flush()
            return
        timer = self._timer
        if timer is not None and timer[0] is loop and not timer[1].cancelled():
            return
        self._timer = (loop, loop.call_later(self.flush_interval, self._flush_in_thread, loop))

    def _flush_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if self._pending:
            # The write happens in a worker thread: a slow disk never stalls the event loop.
            try:
                loop.run_in_executor(None, self.flush)
            except RuntimeError:  # the loop's executor is shutting down
                self.flush()

    def flush(self) -> None:
        """Write every buffered line now (in one write). Safe from any thread."""
        self._write([])

    def close(self) -> None:
        """Write what is buffered and stop the timer (call on the loop that logs, if any)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer[1].cancel()
        self.flush()

    def _write(self, lines: list[str], *, required: bool = False) -> None:
        if self.path is None:
            return
        with self._file_lock:
            with self._buffer_lock:
                if self._pending:
                    lines, self._pending = self._pending + lines, []
            if not lines:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # O_APPEND: lines from several processes sharing the file never interleave.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    data = "".join(lines).encode("utf-8")
                    while data:
                        data = data[os.write(fd, data) :]
                finally:
                    os.close(fd)
            except OSError as exc:
                if required:
                    from ai_connector.host.store import storage_fault

                    # A full or read-only volume is typed (507/503); other faults stay generic.
                    fault = storage_fault(exc, f"the audit log {self.path}")
                    raise fault or HostError(
                        f"the audit log {self.path} cannot be written ({exc.strerror}); "
                        "the change was not made"
                    ) from None
                log.warning(
                    "cannot write the audit log %s: %s (%d event(s) lost)",
                    self.path,
                    exc.strerror,
                    len(lines),
                )


@atexit.register
def flush_audit_logs() -> None:
    """Write the buffered lines of every open audit log (runs at interpreter exit)."""
    for audit in list(_LIVE):
        try:
            audit.flush()
        except Exception:  # at exit, one broken log must not stop the others
            log.exception("flushing the audit log %s failed", audit.path)
