"""`ai-connector providers | schema | plugins`, with their --json outputs parsed and asserted."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fakedists import Dists, plugin_source

from ai_connector.cli import cli

SETTINGS = """{
    "type": "object",
    "properties": {
        "model_id": {"type": "string", "title": "Model ID", "description": "The model."},
        "location": {"type": "string", "title": "Region", "x-task-types": ["chat_completion"]},
        "rate_limit": {"type": "object", "title": "Rate Limit", "properties": {
            "requests_per_minute": {"type": "integer", "title": "Rate Limit", "default": 60}}},
    },
    "required": ["model_id"],
    "additionalProperties": False,
}"""


@pytest.fixture
def catalog(dists: Dists, monkeypatch: pytest.MonkeyPatch) -> Dists:
    monkeypatch.setenv("AI_CONNECTOR_DISABLED_PLUGINS", "ai-connector")  # only the fakes below
    dists.add("zeta-llm", "zeta", "zeta_plugin", plugin_source("zeta", settings=SETTINGS))
    dists.add("alpha-llm", "alpha", "alpha_plugin", plugin_source("alpha"))
    dists.add("broken-llm", "broken", "broken_plugin", "raise ImportError('sdk missing')\n")
    return dists


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_providers_json_lists_es_descriptors_sorted_by_id(catalog: Dists) -> None:
    result = invoke("providers", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["service"] for d in data] == ["alpha", "zeta"]
    assert data[1] == {
        "service": "zeta",
        "name": "Fake zeta",
        "task_types": ["chat_completion"],
        "configurations": {
            "location": {
                "label": "Region",
                "required": False,
                "sensitive": False,
                "updatable": False,
                "type": "str",
                "supported_task_types": ["chat_completion"],
            },
            "model_id": {
                "description": "The model.",
                "label": "Model ID",
                "required": True,
                "sensitive": False,
                "updatable": False,
                "type": "str",
                "supported_task_types": ["chat_completion"],
            },
            "rate_limit.requests_per_minute": {
                "default_value": 60,
                "label": "Rate Limit",
                "required": False,
                "sensitive": False,
                "updatable": False,
                "type": "int",
                "supported_task_types": ["chat_completion"],
            },
        },
    }


def test_providers_table_is_readable_and_warns_about_failures(catalog: Dists) -> None:
    result = invoke("providers")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "TASK", "TYPES"]
    assert lines[2].split()[0] == "alpha" and lines[3].split()[0] == "zeta"
    assert "1 plugin(s) failed to load: broken" in result.stderr


def test_schema_json_gives_settings_auth_and_task_settings(catalog: Dists) -> None:
    result = invoke("schema", "zeta", "--task-type", "chat_completion", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["provider"] == "zeta" and data["task_types"] == ["chat_completion"]
    assert set(data["settings"]["properties"]) == {"model_id", "location", "rate_limit"}
    assert data["auth"]["properties"] == {} and data["task_settings"] == {}


def test_schema_table(catalog: Dists) -> None:
    result = invoke("schema", "zeta")
    assert result.exit_code == 0
    assert "rate_limit.requests_per_minute" in result.stdout and "Settings:" in result.stdout


def test_unknown_provider_is_a_clear_error_and_non_zero_exit(catalog: Dists) -> None:
    result = invoke("schema", "nope")
    assert result.exit_code == 1
    assert "unknown provider 'nope'; available: alpha, zeta" in result.stderr


def test_unsupported_task_type_is_a_clear_error(catalog: Dists) -> None:
    result = invoke("schema", "zeta", "-t", "rerank")
    assert result.exit_code == 1 and "does not support task type 'rerank'" in result.stderr


def test_plugins_json_includes_failed_and_disabled(catalog: Dists) -> None:
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    by_name = {p["name"]: p for p in json.loads(result.stdout)}
    assert by_name["alpha"] == {
        "name": "alpha",
        "distribution": "alpha-llm",
        "version": "1.0",
        "status": "active",
        "error": None,
        "providers": ["alpha"],
    }
    assert by_name["broken"]["status"] == "failed"
    assert by_name["broken"]["error"] == "import failed: ImportError: sdk missing"
    assert by_name["openai"]["status"] == "disabled"  # the built-ins, disabled by distribution name
