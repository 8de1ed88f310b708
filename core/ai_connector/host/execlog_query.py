"""Reading the execution log in Kibana's shapes, and a per-connector usage summary.

`execution_logs()` answers Kibana's `_global_connector_execution_logs` (`{total, data: [IExecutionLog]}`,
actions `lib/get_execution_log_aggregation.ts`), `execution_kpi()` its `_global_connector_execution_kpi`
(`{success, unknown, failure, warning}`). Filters are Kibana's: a date range (`date_start`, `date_end`)
and a KQL `filter` over the event-log fields Kibana's UI filters on (`kibana.action.id`,
`kibana.action.name`, `event.outcome`, `event.action`, `kibana.action.execution.source`). Only that
subset of KQL is understood (`field: value`, `field: (a or b)`, `*` wildcards, `and`/`or`/`not`,
parentheses); anything else is Kibana's 400 "Invalid kuery syntax for filter ...".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true
from sqlalchemy.engine import Engine

import ai_connector
from ai_connector.host.errors import BadRequestError
from ai_connector.host.execlog import CONNECTOR_TYPE_ID, ExecutionLog, event_message, executions_table

__all__ = [
    "SORT_FIELDS",
    "DateRange",
    "execution_kpi",
    "execution_logs",
    "parse_date",
    "parse_filter",
    "usage_summary",
]

t = executions_table.c
SORT_FIELDS = {"timestamp": t.started_ns, "execution_duration": t.duration_ns, "schedule_delay": t.started_ns}
_FIELDS = {
    "kibana.action.id": t.connector_id,
    "kibana.saved_objects.id": t.connector_id,
    "kibana.action.name": t.connector_name,
    "event.outcome": t.outcome,
    "event.action": t.action,
    "kibana.action.execution.source": t.source,
    "kibana.action.type_id": None,  # always .inference here
    "error.type": t.error_kind,
}
_TOKEN = re.compile(r'\s*(?:(?P<p>[():])|"(?P<q>(?:[^"\\]|\\.)*)"|(?P<w>[^\s():"]+))')
_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdw]))?$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# ---------------------------------------------------------------------------------------------
# Dates


def parse_date(value: str, where: str) -> int:
    """An ISO 8601 date (UTC when it names no zone), `now` or `now-<n><s|m|h|d|w>`, as epoch ns."""
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        moment = datetime.now(UTC)
        if relative.group(1):
            moment -= timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadRequestError(f"[request body.{where}]: Invalid date: {value}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def iso(ns: int) -> str:
    """Epoch nanoseconds as Kibana's timestamps (`2026-11-30T13:20:09.123Z`)."""
    moment = datetime.fromtimestamp(ns / 1e9, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DateRange:
    """`[start, end]` in epoch ns; `end` None means up to now."""

    start: int
    end: int | None = None

    @classmethod
    def parse(cls, date_start: str, date_end: str | None) -> DateRange:
        """Kibana's `date_start` (required) and `date_end` (optional)."""
        return cls(
            parse_date(date_start, "date_start"), parse_date(date_end, "date_end") if date_end else None
        )

    def clause(self) -> ColumnElement[bool]:
        """The SQL condition."""
        cond = t.started_ns >= self.start
        return cond if self.end is None else and_(cond, t.started_ns <= self.end)


# ---------------------------------------------------------------------------------------------
# The KQL subset


class _Kql:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(source):
            match = _TOKEN.match(source, pos)
            if match is None:
                if source[pos:].strip():
                    self.fail()
                break
            pos = match.end()
            if match.group("p"):
                self.tokens.append(("p", match.group("p")))
            elif match.group("q") is not None:
                self.tokens.append(("v", re.sub(r"\\(.)", r"\1", match.group("q"))))
            elif match.group("w"):
                self.tokens.append(("w", match.group("w")))
        self.i = 0

    def fail(self) -> None:
        raise BadRequestError(f"Invalid kuery syntax for filter {self.source}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            self.fail()
        self.i += 1
        return token  # type: ignore[return-value]

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "w" and token[1].lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> ColumnElement[bool]:
        if not self.tokens:
            return true()
        clause = self.or_()
        if self.peek() is not None:
            self.fail()
        return clause

    def or_(self) -> ColumnElement[bool]:
        parts = [self.and_()]
        while self.keyword("or"):
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def and_(self) -> ColumnElement[bool]:
        parts = [self.not_()]
        while self.keyword("and"):
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def not_(self) -> ColumnElement[bool]:
        if self.keyword("not"):
            return not_(self.not_())
        if self.peek() == ("p", "("):
            self.take()
            inner = self.or_()
            if self.take() != ("p", ")"):
                self.fail()
            return inner
        kind, field = self.take()
        if kind != "w" or self.take() != ("p", ":"):
            self.fail()
        if field not in _FIELDS:
            self.fail()
        if self.peek() == ("p", "("):
            self.take()
            values = [self.value()]
            while self.keyword("or"):
                values.append(self.value())
            if self.take() != ("p", ")"):
                self.fail()
            return or_(*(self.match(field, v) for v in values))
        return self.match(field, self.value())

    def value(self) -> str:
        kind, value = self.take()
        if kind == "p":
            self.fail()
        return value

    @staticmethod
    def match(field: str, value: str) -> ColumnElement[bool]:
        column = _FIELDS[field]
        if column is None:  # the connector type: every row here is an `.inference` execution
            return true() if value in (CONNECTOR_TYPE_ID, "*") else false()
        if "*" in value:
            pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            return column.like(pattern, escape="\\")
        return column == value


def parse_filter(kql: str | None) -> ColumnElement[bool]:
    """The SQL condition for a KQL filter (the subset in the module docstring)."""
    return _Kql(kql or "").parse()


# ---------------------------------------------------------------------------------------------
# Kibana's routes


def _engine(execlog: ExecutionLog | Engine) -> Engine:
    if not isinstance(execlog, ExecutionLog):
        return execlog
    if execlog.engine is None:
        raise BadRequestError("the execution log is not stored on this host (AI_CONNECTOR_EXECUTION_LOG)")
    execlog.flush()  # this host's own waiting rows are part of the answer
    return execlog.engine


def _log_entry(row: Any) -> dict[str, Any]:
    message = event_message(row.action, row.outcome, row.connector_id, row.connector_name)
    if row.outcome == "failure":
        message = f"{message} - {row.error_message or ''}"
    return {
        "id": row.id,
        "timestamp": iso(row.started_ns),
        "duration_ms": row.duration_ns / 1_000_000,
        "status": row.outcome,
        "message": message,
        "version": ai_connector.__version__,
        "source": row.source,
        "schedule_delay_ms": 0,
        "space_ids": ["default"],
        "connector_name": row.connector_name,
        "connector_id": row.connector_id,
        "timed_out": row.error_kind == "timeout",
        # beyond Kibana's IExecutionLog: what the page's Execution log tab shows per row
        "action": row.action,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
    }


def execution_logs(
    execlog: ExecutionLog | Engine,
    *,
    dates: DateRange,
    filter: str | None = None,
    page: int = 1,
    per_page: int = 10,
    sort: Sequence[Mapping[str, Mapping[str, str]]] = ({"timestamp": {"order": "desc"}},),
) -> dict[str, Any]:
    """Kibana's `IExecutionLogResult`: `{total, data}` for one page, newest first by default."""
    order = []
    for entry in sort:
        for field, spec in entry.items():
            if field not in SORT_FIELDS:
                raise BadRequestError(
                    f'Invalid sort field "{field}" - must be one of [{",".join(SORT_FIELDS)}]'
                )
            column = SORT_FIELDS[field]
            order.append(column.asc() if spec.get("order") == "asc" else column.desc())
    where = and_(dates.clause(), parse_filter(filter))
    engine = _engine(execlog)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(executions_table).where(where)).scalar_one()
        rows = conn.execute(
            select(executions_table)
            .where(where)
            .order_by(*order, t.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
    return {"total": total, "data": [_log_entry(r) for r in rows]}


def execution_kpi(
    execlog: ExecutionLog | Engine, *, dates: DateRange, filter: str | None = None
) -> dict[str, int]:
    """Kibana's execution KPI: how many executions succeeded, failed, warned or are unknown."""
    where = and_(dates.clause(), parse_filter(filter), t.action == "execute")
    engine = _engine(execlog)
    with engine.connect() as conn:
        rows = conn.execute(select(t.outcome, func.count()).where(where).group_by(t.outcome)).all()
    counts: dict[str, int] = {str(outcome): int(n) for outcome, n in rows}
    known = {k: int(counts.pop(k, 0)) for k in ("success", "failure", "warning")}
    return {
        "success": known["success"],
        "unknown": int(sum(counts.values())),
        "failure": known["failure"],
        "warning": known["warning"],
    }


def usage_summary(execlog: ExecutionLog | Engine, connector_id: str, *, dates: DateRange) -> dict[str, Any]:
    """One connector's executions over a time range: calls, errors by kind, tokens, p50/p95 latency."""
    where = and_(dates.clause(), t.connector_id == connector_id, t.action == "execute")
    engine = _engine(execlog)
    with engine.connect() as conn:
        calls, input_tokens, output_tokens = conn.execute(
            select(func.count(), func.sum(t.input_tokens), func.sum(t.output_tokens)).where(where)
        ).one()
        kinds = conn.execute(
            select(t.error_kind, func.count())
            .where(and_(where, t.outcome == "failure"))
            .group_by(t.error_kind)
        ).all()

        def percentile(p: float) -> float | None:
            if not calls:
                return None
            rank = max(0, math.ceil(p * calls) - 1)  # nearest rank
            value = conn.execute(
                select(t.duration_ns).where(where).order_by(t.duration_ns).offset(rank).limit(1)
            ).scalar_one()
            return float(value) / 1_000_000

        p50, p95 = percentile(0.50), percentile(0.95)
    errors = {kind or "unknown": int(n) for kind, n in sorted(kinds, key=lambda kn: kn[0] or "unknown")}
    return {
        "connector_id": connector_id,
        "date_start": iso(dates.start),
        "date_end": iso(dates.end) if dates.end is not None else None,
        "calls": int(calls),
        "errors": int(sum(errors.values())),
        "errors_by_kind": errors,
        "input_tokens": int(input_tokens or 0),
        "output_tokens": int(output_tokens or 0),
        "latency_ms": {"p50": p50, "p95": p95},
    }
