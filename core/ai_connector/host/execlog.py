"""The execution log: one row per `_execute` and `_test`, Kibana's event log for connectors.

Kibana records every connector execution in its event log (`event.action: execute`, the outcome,
`event.duration`, `kibana.action.execution.usage.request_body_bytes` and
`kibana.action.execution.gen_ai.usage` tokens; actions `lib/action_executor.ts`) and serves it
through `POST /internal/actions/_global_connector_execution_logs` and `..._kpi`. Here the rows live
in the connector store's database (SQLite or PostgreSQL: hosts sharing a PostgreSQL share the log)
in their own table, `connector_executions`, created by this module when the log opens.

What a row holds, and what it never holds: ids, names, provider, task type, model, sub-action,
outcome, the failure's kind and its redacted, capped message, timings, request size and token
counts. Never a prompt, an answer, a header or a secret: the record is built from those fields only.

Writing costs the hot path one object and one list append: rows wait in memory and are written in
one INSERT by a worker thread `flush_interval` seconds later (as `host/audit.py` defers its lines),
when `max_pending` rows wait, before a query, and on `close()`. A crash may lose the rows of the
last `flush_interval` seconds; a normal shutdown loses none.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from ai_connector.redaction import cap

__all__ = [
    "EXECUTION_SOURCE",
    "ExecutionLog",
    "ExecutionRecord",
    "action_error_message",
    "body_bytes",
    "connector_test_record",
    "event_message",
    "execute_record",
    "executions_table",
    "new_record",
    "usage_of",
]

log = logging.getLogger("ai_connector.host.execlog")

CONNECTOR_TYPE_ID = ".inference"
_ADVISORY_LOCK = 0x41494345  # "AICE": serialises creating the table when hosts start together

# Who asked for the execution (Kibana's `kibana.action.execution.source`); the HTTP API sets
# `http_request`, as Kibana's routes do.
EXECUTION_SOURCE: contextvars.ContextVar[str] = contextvars.ContextVar("execution_source", default="python")

metadata = MetaData()

executions_table = Table(
    "connector_executions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("connector_id", String(256), nullable=False),
    Column("connector_name", Text, nullable=False),
    Column("action", String(16), nullable=False),  # execute | test
    Column("sub_action", String(64), nullable=True),
    Column("provider", String(64), nullable=True),
    Column("task_type", String(32), nullable=True),
    Column("model", Text, nullable=True),
    Column("outcome", String(16), nullable=False),  # success | failure
    Column("error_kind", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("started_ns", BigInteger, nullable=False),  # epoch nanoseconds
    Column("duration_ns", BigInteger, nullable=False),
    Column("request_body_bytes", Integer, nullable=False),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("source", String(32), nullable=False),
    Column("user_name", Text, nullable=True),
)
_INDEXES = (
    Index("ix_connector_executions_started", executions_table.c.started_ns),
    Index(
        "ix_connector_executions_connector", executions_table.c.connector_id, executions_table.c.started_ns
    ),
)


class ExecutionRecord(NamedTuple):
    """One execution as the log keeps it (no prompt, answer or secret: see the module docstring).

    A tuple, so building one on the hot path is cheap; `id` is drawn when the row is written.
    """

    connector_id: str
    connector_name: str
    action: str
    sub_action: str | None
    provider: str | None
    task_type: str | None
    model: str | None
    outcome: str
    error_kind: str | None
    error_message: str | None
    started_ns: int
    duration_ns: int
    request_body_bytes: int
    input_tokens: int | None
    output_tokens: int | None
    source: str
    user_name: str | None
    id: str = ""

    @property
    def message(self) -> str:
        """Kibana's event message (`action executed: .inference:<id>: <name>`)."""
        return event_message(self.action, self.outcome, self.connector_id, self.connector_name)


def event_message(action: str, outcome: str, connector_id: str, connector_name: str) -> str:
    """Kibana's event-log message for an execution (action_executor.ts), and ours for a test."""
    label = f"{CONNECTOR_TYPE_ID}:{connector_id}: {connector_name}"
    ok = outcome == "success"
    if action == "test":
        return f"action tested: {label}" if ok else f"action test failure: {label}"
    return f"action executed: {label}" if ok else f"action execution failure: {label}"


def usage_of(data: Any) -> tuple[int | None, int | None]:
    """(input, output) tokens of an `_execute` result or chunk carrying OpenAI's `usage`."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None, None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (
        prompt if type(prompt) is int else None,
        completion if type(completion) is int else None,
    )


def new_record(
    *,
    connector_id: str,
    connector_name: str,
    action: str,
    started_ns: int,
    duration_ns: int,
    outcome: str,
    sub_action: str | None = None,
    provider: str | None = None,
    task_type: str | None = None,
    model: str | None = None,
    error_kind: str | None = None,
    error_message: str | None = None,
    request_body_bytes: int = 0,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    user_name: str | None = None,
) -> ExecutionRecord:
    """A record of the current execution source. `error_message` must already be redacted; it is
    capped here."""
    return ExecutionRecord(
        connector_id=connector_id,
        connector_name=connector_name,
        action=action,
        sub_action=sub_action,
        provider=provider,
        task_type=task_type,
        model=model,
        outcome=outcome,
        error_kind=error_kind,
        error_message=None if error_message is None else cap(error_message),
        started_ns=started_ns,
        duration_ns=max(0, duration_ns),
        request_body_bytes=request_body_bytes,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        source=EXECUTION_SOURCE.get(),
        user_name=user_name,
    )


Sink = Callable[[ExecutionRecord], None]


# The table's columns are the record's fields, `id` first: rows are written as plain tuples.
_COLUMNS = ("id", *ExecutionRecord._fields[:-1])
assert tuple(c.name for c in executions_table.columns) == _COLUMNS
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _row(rec: ExecutionRecord) -> tuple[Any, ...]:
    return (rec.id or str(uuid.uuid4()), *rec[:-1])


def _insert_sql(paramstyle: str) -> str | None:
    """A plain INSERT for DB-API `executemany` (SQLAlchemy's per-row work costs ~10x more)."""
    mark = _PLACEHOLDER.get(paramstyle)
    if mark is None:
        return None
    values = ", ".join([mark] * len(_COLUMNS))
    return f"INSERT INTO {executions_table.name} ({', '.join(_COLUMNS)}) VALUES ({values})"


class ExecutionLog:
    """Buffered writer (and owner of the table) for execution records; `ExecutionLog.open(engine)`.

    With `engine=None` nothing is stored: records only reach the sinks (the exporters).
    """

    def __init__(
        self,
        engine: Engine | None,
        *,
        flush_interval: float = 1.0,
        max_pending: int = 5000,
        sinks: Iterable[Sink] = (),
    ) -> None:
        self.engine = engine
        self.flush_interval = max(0.0, float(flush_interval))
        self.max_pending = max(1, int(max_pending))
        self.sinks: tuple[Sink, ...] = tuple(sinks)
        self._pending: list[ExecutionRecord] = []
        self._buffer_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._timer: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None
        self._closed = False

    @classmethod
    def open(cls, engine: Engine, **kwargs: Any) -> ExecutionLog:
        """Create the table (once, under a lock on PostgreSQL) and return the log."""
        execlog = cls(engine, **kwargs)
        execlog.create_table()
        return execlog

    def create_table(self) -> None:
        """`CREATE TABLE/INDEX IF NOT EXISTS`, serialised between hosts sharing a PostgreSQL."""
        if self.engine is None:
            return
        with self.engine.connect() as conn:
            conn.execution_options(ai_connector_write=True)  # SQLite: BEGIN IMMEDIATE (the store's hook)
            with conn.begin():
                if self.engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
                conn.execute(CreateTable(executions_table, if_not_exists=True))
                for index in _INDEXES:
                    conn.execute(CreateIndex(index, if_not_exists=True))

    # -- the hot path --------------------------------------------------------------------------

    def record(self, rec: ExecutionRecord) -> None:
        """Keep `rec` for the next flush and hand it to the metric sinks (cheap: no I/O here)."""
        for sink in self.sinks:
            try:
                sink(rec)
            except Exception:  # an exporter's failure must not fail the execution
                log.warning("an execution-log exporter failed", exc_info=True)
        if self._closed or self.engine is None:
            return
        with self._buffer_lock:
            self._pending.append(rec)
            waiting = len(self._pending)
        if waiting >= self.max_pending or self.flush_interval == 0:
            self._flush_soon()
        else:
            self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a blocking caller: nothing would flush later
            self.flush()
            return
        timer = self._timer
        if timer is not None and timer[0] is loop and not timer[1].cancelled():
            return
        self._timer = (loop, loop.call_later(self.flush_interval, self._flush_in_thread, loop))

    def _flush_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_in_thread(loop)

    def _flush_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if self._pending:
            try:  # the INSERT runs in a worker thread: a slow database never stalls the loop
                loop.run_in_executor(None, self.flush)
            except RuntimeError:  # the loop's executor is shutting down
                self.flush()

    # -- writing -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every waiting record now, in one INSERT. Safe from any thread."""
        with self._write_lock:
            with self._buffer_lock:
                rows, self._pending = self._pending, []
            if not rows or self.engine is None:
                return
            try:
                sql = _insert_sql(self.engine.dialect.paramstyle)
                with self.engine.connect() as conn:
                    conn.execution_options(ai_connector_write=True)
                    with conn.begin():
                        if sql is None:
                            conn.execute(
                                insert(executions_table),
                                [dict(zip(_COLUMNS, _row(r), strict=True)) for r in rows],
                            )
                        else:
                            conn.exec_driver_sql(sql, [_row(r) for r in rows])
            except Exception as exc:
                log.warning(
                    "cannot write the execution log: %s (%d record(s) lost)", type(exc).__name__, len(rows)
                )

    def close(self) -> None:
        """Write what waits and stop the timer; later records go to the sinks only."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer[1].cancel()
        self.flush()
        self._closed = True


# ---------------------------------------------------------------------------------------------
# Records from what the service has at hand (only ids, names, counts and texts: never params)

_encode_size = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def body_bytes(params: Any) -> int:
    """Kibana's `request_body_bytes`: the size of the sub-action's params as JSON (0 if not JSON)."""
    try:
        return len(_encode_size(params).encode("utf-8")) if params is not None else 0
    except (TypeError, ValueError):
        return 0


def _describe(connector: Any) -> tuple[str | None, str | None, str | None]:
    """(provider id, task type, model id) of a ValidatedConnector (or Nones for anything else)."""
    provider = getattr(connector, "provider", None)
    task = getattr(connector, "task_type", None)
    config = getattr(connector, "config", None) or {}
    model = (config.get("providerConfig") or {}).get("model_id")
    return (
        getattr(provider, "id", None),
        getattr(task, "value", task),
        model if isinstance(model, str) else None,
    )


def action_error_message(outcome: Mapping[str, Any]) -> str:
    """Kibana's event-log `error.message` for a failed execution (action_executor.ts
    actionErrorToMessage): `message[: service_message][; retry: true]`."""
    message = outcome.get("message") or "unknown error running action"
    if outcome.get("service_message"):
        message = f"{message}: {outcome['service_message']}"
    if outcome.get("retry"):
        message = f"{message}; retry: true"
    return message


def execute_record(
    *,
    connector_id: str,
    name: str,
    connector: Any,
    sub_action: Any,
    params: Any,
    started_ns: int,
    outcome: Mapping[str, Any],
    error_kind: str | None = None,
    usage: Mapping[str, Any] | None = None,
    user: str | None = None,
) -> ExecutionRecord:
    """The record of one `_execute` (or stream), from Kibana's answer body `outcome`. `usage` is the
    stream's usage chunk; a non-streamed answer's own `data.usage` is read otherwise."""
    provider, task, model = _describe(connector)
    body = params.get("body") if isinstance(params, Mapping) else None
    if isinstance(body, Mapping) and isinstance(body.get("model"), str):
        model = body["model"]
    failed = outcome.get("status") != "ok"
    input_tokens, output_tokens = usage_of({"usage": usage} if usage is not None else outcome.get("data"))
    return new_record(
        connector_id=connector_id,
        connector_name=name,
        action="execute",
        sub_action=sub_action if isinstance(sub_action, str) else None,
        provider=provider,
        task_type=task,
        model=model,
        started_ns=started_ns,
        duration_ns=time.time_ns() - started_ns,
        outcome="failure" if failed else "success",
        error_kind=(error_kind or outcome.get("_code") or "unknown") if failed else None,
        error_message=action_error_message(outcome) if failed else None,
        request_body_bytes=body_bytes(params),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        user_name=user,
    )


def connector_test_record(
    *, connector_id: str, name: str, connector: Any, started_ns: int, result: Any, user: str | None = None
) -> ExecutionRecord:
    """The record of one *Save & test* (a TestResult)."""
    provider, task, model = _describe(connector)
    failure = getattr(result, "failure", None)
    return new_record(
        connector_id=connector_id,
        connector_name=name,
        action="test",
        provider=provider,
        task_type=task,
        model=model,
        started_ns=started_ns,
        duration_ns=time.time_ns() - started_ns,
        outcome="success" if result.ok else "failure",
        error_kind=None if result.ok else getattr(failure, "value", failure) or "failed",
        error_message=None if result.ok else result.message,
        user_name=user,
    )
