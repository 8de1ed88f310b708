"""Kibana's execution-log routes, a per-connector usage summary, and Prometheus's `/metrics`.

`POST /internal/actions/_global_connector_execution_logs` and `..._execution_kpi` take Kibana's
bodies (actions `routes/get_global_execution_logs.ts`, `get_global_execution_kpi.ts`) and answer
in its shapes; `GET /internal/actions/connector/{id}/_execution_summary` is this host's own
summary (calls, errors by kind, tokens, p50/p95 latency). Any authenticated caller may read them,
as any Kibana user with connector read access may.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from ai_connector.api.errors import ApiError
from ai_connector.api.models import (
    ExecutionKpiRequest,
    ExecutionKpiResponse,
    ExecutionLogRequest,
    ExecutionLogResponse,
    ExecutionSummaryResponse,
)
from ai_connector.api.routes import ERRORS, Caller, service

if TYPE_CHECKING:
    from ai_connector.host.execlog import ExecutionLog

__all__ = ["router"]

router = APIRouter()
_EMPTY_KPI = {"success": 0, "unknown": 0, "failure": 0, "warning": 0}


def _stored_log(request: Request) -> ExecutionLog | None:
    execlog = getattr(service(request), "execlog", None)
    return execlog if execlog is not None and execlog.engine is not None else None


def _bounded(value: int, field: str, low: int, high: int) -> None:
    """Kibana's config-schema texts for a number out of range."""
    if value < low:
        raise ApiError(400, f"[request body.{field}]: Value must be equal to or greater than [{low}].")
    if value > high:
        raise ApiError(400, f"[request body.{field}]: Value must be equal to or lower than [{high}].")


@router.post(
    "/internal/actions/_global_connector_execution_logs",
    response_model=ExecutionLogResponse,
    tags=["execution log"],
    summary="Connector execution log (Kibana's event log)",
    responses={400: ERRORS[400], 401: ERRORS[401]},
)
async def global_execution_logs(request: Request, body: ExecutionLogRequest, _who: Caller) -> Any:
    """One page of executions, newest first unless `sort` says otherwise; `filter` is KQL over
    `kibana.action.id`, `kibana.action.name`, `event.outcome`, `event.action`."""
    from ai_connector.host.execlog_query import DateRange, execution_logs

    _bounded(body.per_page, "per_page", 1, 100)
    _bounded(body.page, "page", 1, 1000)
    dates = DateRange.parse(body.date_start, body.date_end)
    execlog = _stored_log(request)
    if execlog is None:
        return {"total": 0, "data": []}
    return await asyncio.to_thread(
        execution_logs,
        execlog,
        dates=dates,
        filter=body.filter,
        page=body.page,
        per_page=body.per_page,
        sort=body.sort,
    )


@router.post(
    "/internal/actions/_global_connector_execution_kpi",
    response_model=ExecutionKpiResponse,
    tags=["execution log"],
    summary="Connector execution outcomes (Kibana's KPI)",
    responses={400: ERRORS[400], 401: ERRORS[401]},
)
async def global_execution_kpi(request: Request, body: ExecutionKpiRequest, _who: Caller) -> Any:
    """How many executions succeeded, failed, warned or are unknown in the range and filter."""
    from ai_connector.host.execlog_query import DateRange, execution_kpi

    dates = DateRange.parse(body.date_start, body.date_end)
    execlog = _stored_log(request)
    if execlog is None:
        return dict(_EMPTY_KPI)
    return await asyncio.to_thread(execution_kpi, execlog, dates=dates, filter=body.filter)


@router.get(
    "/internal/actions/connector/{id}/_execution_summary",
    response_model=ExecutionSummaryResponse,
    tags=["execution log"],
    summary="One connector's usage over a time range",
    responses={400: ERRORS[400], 401: ERRORS[401]},
)
async def execution_summary(
    id: str,
    request: Request,
    _who: Caller,
    date_start: Annotated[str, Query(description="ISO 8601 date or now-<n><s|m|h|d|w>.")] = "now-24h",
    date_end: Annotated[str | None, Query(description="ISO 8601 date; default now.")] = None,
) -> Any:
    """Calls, errors by kind, input/output tokens and p50/p95 latency of `_execute` calls."""
    from ai_connector.host.execlog_query import DateRange, usage_summary

    dates = DateRange.parse(date_start, date_end)
    execlog = _stored_log(request)
    if execlog is None:
        raise ApiError(404, "the execution log is turned off on this host (AI_CONNECTOR_EXECUTION_LOG)")
    return await asyncio.to_thread(usage_summary, execlog, id, dates=dates)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, _who: Caller) -> Response:
    """Prometheus exposition text (only with `AI_CONNECTOR_METRICS=prometheus`)."""
    from ai_connector.host.telemetry import PrometheusSink

    execlog = getattr(service(request), "execlog", None)
    for sink in getattr(execlog, "sinks", ()):
        if isinstance(sink, PrometheusSink):
            payload, content_type = sink.render()
            return Response(payload, media_type=content_type)
    raise ApiError(404, "Prometheus metrics are off on this host (AI_CONNECTOR_METRICS=prometheus)")
