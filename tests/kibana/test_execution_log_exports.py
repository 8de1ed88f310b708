"""The execution log's optional exports (Prometheus, OpenTelemetry's GenAI conventions), its
settings, and `ai-connector log <id>` in the terminal."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from ai_connector.cli import cli
from ai_connector.host.errors import SettingsError
from ai_connector.host.execlog import ExecutionLog, ExecutionRecord, executions_table, new_record
from ai_connector.host.settings import HostSettings
from ai_connector.host.store import ConnectorStore
from ai_connector.host.telemetry import (
    ObservabilitySettings,
    OpenTelemetrySink,
    PrometheusSink,
    open_execution_log,
)


def _rec(outcome: str = "success", **kw: object) -> ExecutionRecord:
    return new_record(
        connector_id=str(kw.pop("connector_id", "c1")),
        connector_name="My connector",
        action="execute",
        sub_action="unified_completion",
        provider="openai",
        task_type="chat_completion",
        model="gpt-4o",
        started_ns=time.time_ns() - 250_000_000,
        duration_ns=250_000_000,
        outcome=outcome,
        input_tokens=12,
        output_tokens=5,
        request_body_bytes=99,
        **kw,  # type: ignore[arg-type]
    )


def test_settings_are_off_by_default_and_checked() -> None:
    settings = ObservabilitySettings.from_env({})
    assert settings == ObservabilitySettings(execution_log=True, flush_interval=1.0, exporters=())
    on = ObservabilitySettings.from_env({"AI_CONNECTOR_METRICS": "prometheus, otel"})
    assert on.exporters == ("prometheus", "otel")
    with pytest.raises(SettingsError, match="unknown exporter"):
        ObservabilitySettings.from_env({"AI_CONNECTOR_METRICS": "statsd"})
    with pytest.raises(SettingsError, match="between 0 and 60"):
        ObservabilitySettings.from_env({"AI_CONNECTOR_EXECUTION_LOG_FLUSH_INTERVAL": "-1"})


def test_with_everything_off_there_is_no_log_to_call(tmp_path: Path) -> None:
    store = ConnectorStore.open(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        off = ObservabilitySettings(execution_log=False)
        assert open_execution_log(store.engine, off) is None
        default = open_execution_log(store.engine, ObservabilitySettings())
        assert default is not None and default.sinks == ()
    finally:
        store.close()


def test_prometheus_counts_executions_errors_tokens_and_latency() -> None:
    sink = PrometheusSink()
    sink(_rec())
    sink(_rec("failure", error_kind="rate_limited"))
    text, content_type = sink.render()
    exposition = text.decode()
    assert content_type.startswith("text/plain")
    assert (
        'ai_connector_executions_total{action="execute",connector_id="c1",outcome="success"} 1.0'
        in exposition
    )
    assert (
        'ai_connector_errors_total{action="execute",connector_id="c1",kind="rate_limited"} 1.0' in exposition
    )
    assert 'ai_connector_tokens_total{connector_id="c1",type="input"} 24.0' in exposition
    assert (
        'ai_connector_execution_duration_seconds_count{action="execute",connector_id="c1"} 2.0' in exposition
    )


def test_opentelemetry_follows_the_genai_semantic_conventions() -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = sdk_trace.TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    sink = OpenTelemetrySink(tracer_provider=tracer_provider, meter_provider=MeterProvider([reader]))
    rec = _rec("failure", error_kind="rate_limited")
    sink(rec)
    [span] = spans.get_finished_spans()
    assert span.name == "chat gpt-4o"
    assert span.kind.name == "CLIENT"
    assert span.start_time == rec.started_ns and span.end_time == rec.started_ns + rec.duration_ns
    assert span.status.status_code.name == "ERROR"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o"
    assert attributes["gen_ai.usage.input_tokens"] == 12 and attributes["gen_ai.usage.output_tokens"] == 5
    assert attributes["error.type"] == "rate_limited"
    names = {
        m.name: m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= set(names)
    token_types = {
        p.attributes["gen_ai.token.type"] for p in names["gen_ai.client.token.usage"].data.data_points
    }
    assert token_types == {"input", "output"}


def test_a_failing_exporter_does_not_fail_the_execution(tmp_path: Path) -> None:
    def broken(_rec: ExecutionRecord) -> None:
        raise RuntimeError("exporter down")

    store = ConnectorStore.open(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        execlog = ExecutionLog.open(store.engine, sinks=[broken])
        execlog.record(_rec())  # no exception; the row is still stored
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(executions_table)).scalar_one() == 1
    finally:
        store.close()


def test_the_cli_shows_a_connectors_summary_and_latest_executions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"AI_CONNECTOR_HOME": str(home)}
    store = ConnectorStore.open(HostSettings.load(env=env).database_url)
    try:
        execlog = ExecutionLog.open(store.engine)
        execlog.record(_rec())
        execlog.record(_rec("failure", error_kind="credentials", error_message="an error occurred: 401"))
        execlog.record(_rec(connector_id="other"))
    finally:
        store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["log", "c1"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "2 call(s), 1 error(s) (credentials: 1); tokens in 24 / out 10" in lines[0]
    assert "action execution failure: .inference:c1: My connector - an error occurred: 401" in result.output
    assert ".inference:other" not in result.output
    as_json = json.loads(runner.invoke(cli, ["log", "c1", "--json", "--failures"], env=env).output)
    assert as_json["summary"]["calls"] == 2 and [e["status"] for e in as_json["executions"]] == ["failure"]
