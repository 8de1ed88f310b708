"""`ai-connector fake googleaistudio|googlevertexai`: the create command each prints passes Save & test
against the fake and the connector runs (their fakes now serve Google's routes by default:
`:generateContent`, `:streamGenerateContent`, the embeddings and rank calls), for every task type the
provider offers, as `test_first_use_cli.py` checks for openai."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
import test_first_use_cli as first_use
from test_first_use_cli import closed_port, invoke

from ai_connector.manager import default_registry
from ai_connector.testing.fake_command import create_command
from ai_connector.testing.fakes import provider_fake
from ai_connector.types import TaskType

home = first_use.home  # its autouse fixture: a fresh AI_CONNECTOR_HOME, no AI_CONNECTOR_* settings
GOOGLE = ["googleaistudio", "googlevertexai"]
CASES = [
    (provider, task.value)
    for provider in GOOGLE
    for task in TaskType
    if task in default_registry().get(provider).task_types
]


def _only_id() -> str:
    (connector,) = json.loads(invoke("list", "--json").output)
    return str(connector["id"])


@pytest.mark.parametrize(("provider", "task"), CASES)
def test_the_printed_create_command_saves_and_tests_for_every_task_type(provider: str, task: str) -> None:
    with provider_fake(provider)() as service:
        line = create_command(service, f"Fake {provider}", task)
        result = invoke(*shlex.split(line)[1:])
        assert result.exit_code == 0, result.output
        assert re.search(rf"✓ Fake {provider}: connector test succeeded in \d+ ms", result.output)
        paths = [r.path for r in service.requests]
    method = {"text_embedding": {"googleaistudio": "batchEmbedContents", "googlevertexai": "predict"}}
    called = method.get(task, {}).get(provider, "rank" if task == "rerank" else "generateContent")
    assert any(p.endswith(":" + called) for p in paths), paths


@pytest.mark.parametrize("provider", GOOGLE)
def test_fake_prints_a_command_that_passes_and_runs(provider: str) -> None:
    """`ai-connector fake PROVIDER --port N` in its own process, then the command it prints, then a run."""
    port = closed_port()
    cmd = [sys.executable, "-m", "ai_connector.cli", "fake", provider, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        assert lines[0].startswith(f"Fake {default_registry().get(provider).name} listening on "), lines
        printed = shlex.split(lines[2])
        assert printed[:2] == ["ai-connector", "create"] and printed[-1] == "--test"
        result = invoke(*printed[1:])
        assert result.exit_code == 0, result.output
        assert "connector test succeeded" in result.output
        run = invoke("run", _only_id(), "Hello")
        assert run.exit_code == 0, run.output
        assert run.stdout == "Hello there!\n"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
