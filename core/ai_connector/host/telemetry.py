"""Optional exports of the execution log for operators: Prometheus metrics and OpenTelemetry.

Both are off by default and cost nothing then (the execution log has no sink to call). Turn them
on with `AI_CONNECTOR_METRICS=prometheus`, `=otel` or `=prometheus,otel`:

- `prometheus` (the `metrics` extra, prometheus-client): counters and a latency histogram per
  connector, served at `GET /metrics` (behind the API key, like every other route of the host).
- `otel` (the opentelemetry API; the application configures the SDK and exporters): one CLIENT
  span per execution and the `gen_ai.client.operation.duration` / `gen_ai.client.token.usage`
  histograms, named and attributed after OpenTelemetry's GenAI semantic conventions.

`AI_CONNECTOR_EXECUTION_LOG=false` turns the stored execution log off (the sinks still work), and
`AI_CONNECTOR_EXECUTION_LOG_FLUSH_INTERVAL` (seconds, default 1) sets how long rows wait in memory.
The records carry no prompt, answer or secret, so neither export can.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ai_connector
from ai_connector.host.errors import SettingsError
from ai_connector.host.execlog import ExecutionLog, ExecutionRecord, Sink

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "ObservabilitySettings",
    "OpenTelemetrySink",
    "PrometheusSink",
    "build_sinks",
    "open_execution_log",
]

ENV_EXECUTION_LOG = "AI_CONNECTOR_EXECUTION_LOG"
ENV_FLUSH_INTERVAL = "AI_CONNECTOR_EXECUTION_LOG_FLUSH_INTERVAL"
ENV_METRICS = "AI_CONNECTOR_METRICS"
EXPORTERS = ("prometheus", "otel")

# sub-action -> gen_ai.operation.name (GenAI semantic conventions' well-known values)
_OPERATIONS = {
    "unified_completion": "chat",
    "unified_completion_stream": "chat",
    "chat_completion": "chat",
    "completion": "text_completion",
    "text_embedding": "embeddings",
    "sparse_embedding": "embeddings",
    "rerank": "rerank",
}
# Elasticsearch service key -> gen_ai.provider.name
_PROVIDERS = {
    "openai": "openai",
    "azureopenai": "azure.ai.openai",
    "amazonbedrock": "aws.bedrock",
    "googlevertexai": "gcp.vertex_ai",
    "googleaistudio": "gcp.gemini",
    "anthropic": "anthropic",
    "mistral": "mistral_ai",
    "cohere": "cohere",
    "deepseek": "deepseek",
}


@dataclass(frozen=True)
class ObservabilitySettings:
    """Whether the execution log is stored, how long rows wait, and which exporters run."""

    execution_log: bool = True
    flush_interval: float = 1.0
    exporters: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ObservabilitySettings:
        """Read the three environment variables (see the module docstring)."""
        env = os.environ if env is None else env
        enabled = env.get(ENV_EXECUTION_LOG, "true").strip().lower()
        if enabled not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise SettingsError(f"{ENV_EXECUTION_LOG} must be true or false, not {enabled!r}")
        try:
            interval = float(env.get(ENV_FLUSH_INTERVAL, "1"))
        except ValueError:
            raise SettingsError(f"{ENV_FLUSH_INTERVAL} must be a number of seconds") from None
        if not 0 <= interval <= 60:
            raise SettingsError(f"{ENV_FLUSH_INTERVAL} must be between 0 and 60 seconds")
        exporters = tuple(e.strip().lower() for e in env.get(ENV_METRICS, "").split(",") if e.strip())
        unknown = [e for e in exporters if e not in EXPORTERS]
        if unknown:
            raise SettingsError(
                f"{ENV_METRICS}: unknown exporter(s) {', '.join(unknown)}; use prometheus, otel"
            )
        return cls(enabled in ("true", "1", "yes", "on"), interval, exporters)


def _operation(rec: ExecutionRecord) -> str:
    return _OPERATIONS.get(rec.sub_action or rec.task_type or "", rec.sub_action or "chat")


class PrometheusSink:
    """Prometheus counters and a histogram in a registry of its own (rendered by `/metrics`)."""

    def __init__(self) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram
        except ImportError:
            raise SettingsError(
                f"{ENV_METRICS}=prometheus needs prometheus-client: pip install 'ai-connector[metrics]'"
            ) from None
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["connector_id", "action", "outcome"]
        self.executions = Counter(
            "ai_connector_executions", "Connector executions and tests.", labels, registry=self.registry
        )
        self.errors = Counter(
            "ai_connector_errors", "Failed executions and tests by failure kind.",
            ["connector_id", "action", "kind"], registry=self.registry,
        )  # fmt: skip
        self.tokens = Counter(
            "ai_connector_tokens", "Tokens reported by the provider.", ["connector_id", "type"],
            registry=self.registry,
        )  # fmt: skip
        self.request_bytes = Counter(
            "ai_connector_request_body_bytes", "Bytes of the sub-action parameters sent.", ["connector_id"],
            registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "ai_connector_execution_duration_seconds", "How long executions and tests took.",
            ["connector_id", "action"], registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )  # fmt: skip

    def __call__(self, rec: ExecutionRecord) -> None:
        """Count one record."""
        cid = rec.connector_id
        self.executions.labels(cid, rec.action, rec.outcome).inc()
        if rec.outcome == "failure":
            self.errors.labels(cid, rec.action, rec.error_kind or "unknown").inc()
        if rec.input_tokens:
            self.tokens.labels(cid, "input").inc(rec.input_tokens)
        if rec.output_tokens:
            self.tokens.labels(cid, "output").inc(rec.output_tokens)
        if rec.request_body_bytes:
            self.request_bytes.labels(cid).inc(rec.request_body_bytes)
        self.duration.labels(cid, rec.action).observe(rec.duration_ns / 1e9)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class OpenTelemetrySink:
    """A CLIENT span and the GenAI client metrics per record, through the opentelemetry API.

    Providers default to the API's global ones (no-ops until the application installs an SDK).
    """

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            raise SettingsError(f"{ENV_METRICS}=otel needs the opentelemetry-api package") from None
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._kind, self._error = SpanKind.CLIENT, Status(StatusCode.ERROR)
        version = ai_connector.__version__
        self.tracer = trace.get_tracer("ai_connector", version, tracer_provider=tracer_provider)
        meter = metrics.get_meter("ai_connector", version, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Measures number of input and output tokens used.",
        )

    def __call__(self, rec: ExecutionRecord) -> None:
        """Emit the span (with its real start and end) and record the metrics."""
        operation = _operation(rec)
        common: dict[str, Any] = {"gen_ai.operation.name": operation}
        if rec.provider:
            common["gen_ai.provider.name"] = _PROVIDERS.get(rec.provider, rec.provider)
        if rec.model:
            common["gen_ai.request.model"] = rec.model
        if rec.outcome == "failure":
            common["error.type"] = rec.error_kind or "_OTHER"
        attributes = dict(common)
        attributes["ai_connector.connector.id"] = rec.connector_id
        if rec.input_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = rec.input_tokens
        if rec.output_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = rec.output_tokens
        name = f"{operation} {rec.model}" if rec.model else operation
        span = self.tracer.start_span(name, kind=self._kind, start_time=rec.started_ns, attributes=attributes)
        if rec.outcome == "failure":
            span.set_status(self._error)
        span.end(end_time=rec.started_ns + rec.duration_ns)
        self.duration.record(rec.duration_ns / 1e9, common)
        if rec.input_tokens is not None:
            self.tokens.record(rec.input_tokens, {**common, "gen_ai.token.type": "input"})
        if rec.output_tokens is not None:
            self.tokens.record(rec.output_tokens, {**common, "gen_ai.token.type": "output"})


def build_sinks(settings: ObservabilitySettings) -> list[Sink]:
    """The configured exporters (none by default)."""
    sinks: list[Sink] = []
    if "prometheus" in settings.exporters:
        sinks.append(PrometheusSink())
    if "otel" in settings.exporters:
        sinks.append(OpenTelemetrySink())
    return sinks


def open_execution_log(engine: Engine, settings: ObservabilitySettings | None = None) -> ExecutionLog | None:
    """The host's execution log on the store's engine, with the configured exporters; None when
    both the stored log and every exporter are off (the service then skips recording entirely)."""
    settings = settings if settings is not None else ObservabilitySettings.from_env()
    sinks = build_sinks(settings)
    if settings.execution_log:
        return ExecutionLog.open(engine, flush_interval=settings.flush_interval, sinks=sinks)
    return ExecutionLog(None, sinks=sinks) if sinks else None
