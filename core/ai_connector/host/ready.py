"""The ready-to-run state of saved connectors, and how fresh it is.

`execute` and `stream` keep, per connector id, the state built from the stored row (decrypted
secrets, validated connector, redactor), keyed by what it was built from: the row's `version`,
name, type, config and secrets ciphertext.
- This host's own create/update/delete/rotate drops the state (`forget`): the next execute reads
  the row.
- Another host sharing the store (or a CLI on the same SQLite file) may change the row at any time.
  The state is used without a query for at most `revalidate_interval` seconds (host setting
  `AI_CONNECTOR_REVALIDATE_INTERVAL`, default 1 s) after the query that confirmed it; then one
  execute re-reads the row (concurrent executes of that connector share the query) and rebuilds the
  state only if the row changed. So an execute that starts at time t runs the connector as stored
  at some moment no earlier than t - revalidate_interval: another host's update is used, and its
  delete makes execute answer 404, within that bound. `0` re-reads the row on every execute.
  Kibana itself reads the saved object on every execute; the bound is the price of not doing so.
- A failing read (database down) fails the execute; nothing stale is used past the bound.
The state holds decrypted secrets in memory only (as each call did before), at most `READY_MAX`
connectors, least recently checked dropped first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ai_connector.host.errors import DecryptionError, HostError
from ai_connector.host.resolve import Resolver, redactor
from ai_connector.host.store import ConnectorStore, StoredConnector
from ai_connector.redaction import Redactor
from ai_connector.validation import ValidatedConnector

__all__ = ["READY_MAX", "Ready", "ReadyStates"]

log = logging.getLogger("ai_connector.host")

READY_MAX = 4096  # saved connectors whose ready-to-run state a host keeps


@dataclass(slots=True)
class Ready:
    """A saved connector ready to run, built from one stored state of its row."""

    row: tuple[Any, ...]  # (version, name, type, secrets token, config): what it was built from
    name: str
    provider_id: str | None  # for the gates, which run on every call
    runnable: ValidatedConnector | HostError  # or the typed reason it cannot run
    redact: Redactor
    checked_at: float  # monotonic time of the query that last confirmed `row`


def _row_key(record: StoredConnector) -> tuple[Any, ...]:
    return (record.version, record.name, record.connector_type_id, record.secrets, record.config)


class ReadyStates:
    """Per saved connector id, its Ready state, refreshed as the module docstring says."""

    def __init__(
        self, store: ConnectorStore, resolver: Resolver, revalidate_interval: Callable[[], float]
    ) -> None:
        self.store = store
        self.resolver = resolver
        self._interval = revalidate_interval
        self._ready: dict[str, Ready] = {}
        self._reading: dict[str, tuple[float, asyncio.Future[Ready]]] = {}
        self._generation = 0  # bumped when this host changes a row: reads begun before are not kept
        self.closed = False

    def __contains__(self, connector_id: object) -> bool:
        return connector_id in self._ready

    async def get(self, connector_id: str) -> Ready:
        """The connector's state, read again when older than the interval. NotFoundError when the
        row is gone."""
        ready = self._ready.get(connector_id)
        if ready is None or time.monotonic() - ready.checked_at >= self._interval():
            ready = await self._read(connector_id)
        return ready

    async def _read(self, connector_id: str) -> Ready:
        """Read the row (in a worker thread) and rebuild the state if the row changed.

        Concurrent callers share a read that began within the interval (so never with 0).
        """
        now = time.monotonic()
        reading = self._reading.get(connector_id)
        if reading is not None and now - reading[0] <= self._interval():
            return await asyncio.shield(reading[1])
        task = asyncio.ensure_future(self._load(connector_id, now))
        task.add_done_callback(_retrieve)  # a read nobody waits for any more must not warn
        self._reading[connector_id] = (now, task)
        return await asyncio.shield(task)

    async def _load(self, connector_id: str, started: float) -> Ready:
        generation = self._generation
        known = self._ready.get(connector_id)
        try:
            ready = await asyncio.to_thread(self._build, connector_id, known, started)
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
        if self._generation == generation and not self.closed:
            self._ready.pop(connector_id, None)  # re-inserted last: the least recently checked go first
            self._ready[connector_id] = ready
            while len(self._ready) > READY_MAX:
                del self._ready[next(iter(self._ready))]
        return ready

    def _build(self, connector_id: str, known: Ready | None, started: float) -> Ready:
        """In a worker thread: the stored row, and the state built from it (reused if unchanged)."""
        record = self.store.require(connector_id)  # NotFoundError: deleted, here or by another host
        key = _row_key(record)
        if known is not None and known.row == key:
            return Ready(key, known.name, known.provider_id, known.runnable, known.redact, started)
        provider_id = record.config.get("provider")
        runnable: ValidatedConnector | HostError
        try:
            runnable = self.resolver.resolve(record)
            redact = redactor(runnable)
        except HostError as exc:
            if isinstance(exc, DecryptionError):
                log.warning("connector %s: %s", connector_id, exc.message)
            runnable, redact = exc, Redactor()
        return Ready(key, record.name, provider_id, runnable, redact, started)

    def forget(self, connector_id: str | None = None) -> None:
        """Drop ready-to-run state after this host changed a row (`None`: every row)."""
        self._generation += 1
        if connector_id is None:
            self._ready.clear()
            self._reading.clear()
        else:
            self._ready.pop(connector_id, None)
            self._reading.pop(connector_id, None)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a finished task's exception as seen (its waiters may all have been cancelled)."""
    if not task.cancelled():
        task.exception()
