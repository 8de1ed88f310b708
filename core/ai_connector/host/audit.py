"""The audit log: one JSON object per line, in the shape of Kibana's connector audit events (A7).

Event names are Kibana's (`connector_create`, `_get`, `_update`, `_delete`, `_find`, `_execute`) plus
`connector_test` for *Save & test*. Writes emit `outcome: "unknown"` before the change ("User is
creating connector [id=...]") and then `success` or `failure`. An event names the connector id and
type and the user; it never carries config values or secrets, and `error.message` is redacted
(known secret values and secret-looking patterns) and capped, because upstream errors can echo a
key (A7.3).

If the log cannot be written, a mutation is refused (fails closed) and a read goes on with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ai_connector.host.errors import HostError
from ai_connector.redaction import Redactor

__all__ = ["ACTIONS", "AuditLog"]

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


class AuditLog:
    """Appends audit events to a JSON-lines file (`None` path: events go to the logger only)."""

    def __init__(self, path: Path | None, *, connector_type: str = ".inference") -> None:
        self.path = path
        self.connector_type = connector_type
        self._lock = threading.Lock()

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

    def log(self, action: str, *, required: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Write one event; `required=True` (before a write) raises HostError if the log is unusable."""
        event = self.event(action, **kwargs)
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        if self.path is None:
            log.info("%s", line.rstrip())
            return event
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # O_APPEND: lines from several processes sharing the file never interleave.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("utf-8"))
                finally:
                    os.close(fd)
        except OSError as exc:
            if required:
                raise HostError(
                    f"the audit log {self.path} cannot be written ({exc.strerror}); the change was not made"
                ) from None
            log.warning("cannot write the audit log %s: %s", self.path, exc.strerror)
        return event
