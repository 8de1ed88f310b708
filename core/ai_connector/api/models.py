"""Pydantic models at the HTTP edge: Kibana's request bodies (strict: unknown keys are a 400) and
response shapes. Response models list exactly Kibana's fields, so nothing else (a secret!) can
leave even if a layer below returned it; deeper validation of `config`/`secrets` is the service's."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "ConnectorListItem",
    "ConnectorResponse",
    "ConnectorTypeResponse",
    "CreateConnectorRequest",
    "ErrorResponse",
    "ExecuteRequest",
    "ExecuteResponse",
    "ExecutionKpiRequest",
    "ExecutionKpiResponse",
    "ExecutionLogEntry",
    "ExecutionLogRequest",
    "ExecutionLogResponse",
    "ExecutionSummaryResponse",
    "ServiceDescriptor",
    "TestResponse",
    "UpdateConnectorRequest",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: Any) -> Any:
    """Kibana's `validateEmptyStrings`: no string, at any depth, may be empty or only whitespace."""
    if isinstance(value, str):
        if not value.strip():
            raise PydanticCustomError("kibana_empty_string", "value '' is not valid")
    elif isinstance(value, list):
        for item in value:
            _not_blank(item)
    elif isinstance(value, dict):
        for item in value.values():
            _not_blank(item)
    return value


# `.inference`'s config schema coerces these with `z.coerce.number()` (kbn-connector-schemas
# inference v1.ts): "8192" is 8192.
_NUMBER_KEYS = ("contextWindowLength", "temperature")


def _coerce_numbers(config: dict[str, Any]) -> dict[str, Any]:
    for key in _NUMBER_KEYS:
        value = config.get(key)
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                continue  # left as it is: the connector's validation names the field
            if math.isfinite(number):
                config[key] = int(number) if number.is_integer() else number
    return config


NonBlank = Annotated[str, AfterValidator(_not_blank)]
# Kibana's `recordOf(string, any({validate: validateEmptyStrings}))`, defaulting to {}.
ConfigRecord = Annotated[
    dict[str, Annotated[Any, AfterValidator(_not_blank)]], AfterValidator(_coerce_numbers)
]
SecretsRecord = dict[str, Annotated[Any, AfterValidator(_not_blank)]]


class CreateConnectorRequest(_Strict):
    """`POST /api/actions/connector[/{id}]` (and an unsaved `_test`)."""

    name: NonBlank = Field(description="The connector's display name.")
    connector_type_id: NonBlank = Field(description='Always ".inference" (Kibana\'s AI Connector type).')
    config: ConfigRecord = Field(
        default_factory=dict,
        description="provider, taskType, inferenceId, providerConfig, taskTypeConfig, contextWindowLength",
    )
    secrets: SecretsRecord = Field(
        default_factory=dict, description="{providerSecrets: {...}}; write-only, never returned."
    )


class UpdateConnectorRequest(_Strict):
    """`PUT /api/actions/connector/{id}`: the type is fixed; secrets must be sent again."""

    name: NonBlank
    config: ConfigRecord = Field(default_factory=dict)
    secrets: SecretsRecord = Field(default_factory=dict)


class ExecuteRequest(_Strict):
    """`POST /api/actions/connector/{id}/_execute`: `{params: {subAction, subActionParams}}`."""

    params: dict[str, Any] = Field(
        description="subAction (unified_completion, unified_completion_stream, completion, "
        "text_embedding, sparse_embedding, rerank) and its subActionParams"
    )


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ConnectorResponse(_Response):
    """A connector as Kibana returns it: never any secret (A3.1)."""

    id: str
    name: str
    config: dict[str, Any] | None = None
    connector_type_id: str
    is_preconfigured: bool
    is_deprecated: bool
    is_missing_secrets: bool | None = None
    is_system_action: bool
    is_connector_type_deprecated: bool
    auth_mode: str | None = None


class ConnectorListItem(ConnectorResponse):
    """An entry of `GET /api/actions/connectors` (preconfigured ones without config unless exposed)."""

    referenced_by_count: int = 0


class ConnectorTypeResponse(_Response):
    """An entry of `GET /api/actions/connector_types` (A5.3)."""

    id: str
    name: str
    enabled: bool
    enabled_in_config: bool
    enabled_in_license: bool
    minimum_license_required: str
    supported_feature_ids: list[str]
    is_system_action_type: bool
    is_deprecated: bool | None = None
    is_testable: bool | None = None
    source: Literal["yml", "spec", "stack"] | None = None


class ExecuteResponse(_Response):
    """`{status: "ok", connector_id, data}` or `{status: "error", connector_id, message,
    service_message, retry, errorSource}`; a connector-level failure is still HTTP 200."""

    status: Literal["ok", "error"]
    connector_id: str
    data: Any = None
    message: str | None = None
    service_message: str | None = None
    retry: bool | None = None
    errorSource: str | None = None  # Kibana's field name


class TestResponse(_Response):
    """*Save & test*: succeeded or failed, why, and how long the provider took."""

    __test__ = False

    connector_id: str | None = None
    status: Literal["succeeded", "failed"]
    message: str
    latency_ms: float | None
    failure: str | None
    status_code: int | None


class ServiceDescriptor(_Response):
    """An Elasticsearch `GET _inference/_services` entry."""

    service: str
    name: str
    task_types: list[str]
    configurations: dict[str, dict[str, Any]]


class ErrorResponse(_Response):
    """Kibana's error body."""

    statusCode: int
    error: str
    message: str
    attributes: dict[str, Any] | None = None


def _newest_first() -> list[dict[str, dict[str, Literal["asc", "desc"]]]]:
    return [{"timestamp": {"order": "desc"}}]


class ExecutionLogRequest(_Strict):
    """`POST /internal/actions/_global_connector_execution_logs` (Kibana's body)."""

    date_start: str = Field(description="ISO 8601 date (or now-<n><s|m|h|d|w>): the oldest execution.")
    date_end: str | None = Field(default=None, description="ISO 8601 date: the newest execution.")
    filter: str | None = Field(default=None, description='KQL, e.g. `kibana.action.id: "my-id"`.')
    per_page: int = 10
    page: int = 1
    sort: list[dict[str, dict[str, Literal["asc", "desc"]]]] = Field(
        default_factory=_newest_first, max_length=10
    )
    namespaces: list[str] | None = None


class ExecutionKpiRequest(_Strict):
    """`POST /internal/actions/_global_connector_execution_kpi` (Kibana's body)."""

    date_start: str
    date_end: str | None = None
    filter: str | None = None
    namespaces: list[str] | None = None


class ExecutionLogEntry(_Response):
    """Kibana's `IExecutionLog`."""

    id: str
    timestamp: str
    duration_ms: float
    status: str
    message: str
    version: str
    source: str
    schedule_delay_ms: float
    space_ids: list[str]
    connector_name: str
    connector_id: str
    timed_out: bool
    action: str = Field(
        default="execute", description="This host's: `execute` (a run) or `test` (Save & test)."
    )
    input_tokens: int | None = Field(default=None, description="This host's: tokens sent, when reported.")
    output_tokens: int | None = Field(
        default=None, description="This host's: tokens received, when reported."
    )


class ExecutionLogResponse(_Response):
    """Kibana's `IExecutionLogResult`."""

    total: int
    data: list[ExecutionLogEntry]


class ExecutionKpiResponse(_Response):
    """Kibana's execution KPI result."""

    success: int
    unknown: int
    failure: int
    warning: int


class ExecutionSummaryResponse(_Response):
    """One connector's `_execute` calls over a time range."""

    connector_id: str
    date_start: str
    date_end: str | None
    calls: int
    errors: int
    errors_by_kind: dict[str, int]
    input_tokens: int
    output_tokens: int
    latency_ms: dict[str, float | None]
