"""A new user's first commands, as the trial that found them walked them: every refusal names what
to type instead (the valid providers and task types, KEY=VALUE, the setting to change), an
unreachable URL reads as English, every command's error starts `error:`, `--help` marks what is
required and where settings live, and `ai-connector fake openai` makes a try with no account one
step."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ai_connector.cli import cli

openai_testing = pytest.importorskip("ai_connector_openai.testing")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in list(os.environ):
        if var.startswith("AI_CONNECTOR_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AI_CONNECTOR_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def create(*extra: str) -> list[str]:
    return ["create", "--name", "first", "-p", "openai", "-t", "chat_completion", *extra]


def test_an_unknown_provider_is_refused_with_the_valid_ones() -> None:
    result = invoke("create", "--name", "x", "-p", "opneai", "-t", "chat_completion", "-c", "model_id=m")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("error: unknown provider 'opneai'; available: ")
    assert "openai" in line and "anthropic" in line and "ai-connector providers" in line


def test_a_task_type_the_service_lacks_is_refused_with_the_ones_it_offers() -> None:
    result = invoke(*create()[:-1], "rerank", "-c", "model_id=m")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: OpenAI (openai) does not support task type 'rerank'; "
        "use one of: completion, chat_completion, text_embedding"
    )


def test_a_config_item_without_equals_says_so_before_any_prompt() -> None:
    # `--secret api_key` would prompt; the broken -c is reported first, and no prompt is shown
    result = invoke(*create("-c", "model_id", "--secret", "api_key"), input="")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "error: --config 'model_id': expected KEY=VALUE, e.g. --config model_id=VALUE"
    )
    assert "Model ID is required" not in result.stderr


def test_an_unreachable_plain_http_url_reads_as_english() -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    result = invoke(
        *create("-c", "model_id=gpt-4o-mini", "-c", f"url={url}", "--secret", "api_key=k", "--test")
    )
    assert result.exit_code == 1
    assert "connector test failed (unreachable)" in result.stderr
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused" in result.stderr
    assert "ssl:default" not in result.stderr and "Connect call failed" not in result.stderr


def test_the_allowed_hosts_refusal_names_the_setting_a_user_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_CONNECTOR_ALLOWED_HOSTS", "api.openai.com")
    url = "http://127.0.0.1:9/v1/chat/completions"
    result = invoke(*create("-c", "model_id=m", "-c", f"url={url}", "--secret", "api_key=k"))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: config.providerConfig.url: target url "
        f'"{url}" is not added to the host setting AI_CONNECTOR_ALLOWED_HOSTS '
        "(allowed_hosts in ai-connector.toml)"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("schema", "nope"),
        ("schema", "openai", "-t", "rerank"),
        ("get", "nope"),
        ("test", "nope"),
        ("run", "nope", "hi"),
        ("delete", "nope", "--yes"),
        ("create", "--name", "x"),
    ],
)
def test_every_command_reports_errors_with_the_same_prefix(args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert re.fullmatch(r"error: [^\n]+\n", result.stderr), result.stderr


def test_help_marks_required_options_and_names_the_settings() -> None:
    top = invoke("--help").output
    assert "AI_CONNECTOR_HOME" in top and "ai-connector.toml" in top
    assert "ai-connector fake openai" in top
    create_help = " ".join(invoke("create", "--help").output.split())
    for option in ("--provider", "--task-type"):
        assert re.search(rf"{option} TEXT \[required unless in --from-file\]", create_help), option
    assert "--name TEXT The connector's name (create: required unless in --from-file)" in create_help
    for command in ("create", "list", "get", "update", "delete", "test", "run", "serve", "rotate-key"):
        text = " ".join(invoke(command, "--help").output.split())
        assert "AI_CONNECTOR_ALLOWED_HOSTS" in text and "ai-connector.toml" in text, command


def test_fake_openai_is_a_try_with_no_account(tmp_path: Path) -> None:
    """`ai-connector fake openai --port N` in its own process, then the command it prints."""
    port = closed_port()
    cmd = [sys.executable, "-m", "ai_connector.cli", "fake", "openai", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        assert lines[0] == f"Fake OpenAI listening on http://127.0.0.1:{port} (API key: canary-secret-0000)\n"
        assert lines[1] == "Point a connector at it (in another shell):\n"
        printed = lines[2].split()
        assert printed[:2] == ["ai-connector", "create"] and printed[-1] == "--test"
        result = invoke(*_unquote(lines[2])[1:])
        assert result.exit_code == 0, result.output
        assert re.search(r"✓ Fake OpenAI: connector test succeeded in \d+ ms", result.output)
        run = invoke("run", _id(invoke("list", "--json").output), "Hello")
        assert run.stdout == "Hello there!\n"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _unquote(line: str) -> list[str]:
    import shlex

    return shlex.split(line)


def _id(listing: str) -> str:
    import json

    (connector,) = json.loads(listing)
    return connector["id"]


def test_fake_of_a_provider_without_a_fake_says_so() -> None:
    result = invoke("fake", "custom", "--port", str(closed_port()))  # a template: nothing to imitate
    assert result.exit_code == 1
    assert result.stderr.startswith("error: provider 'custom' ships no fake (")
    unknown = invoke("fake", "nope")
    assert unknown.stderr.startswith("error: unknown provider 'nope'; available: ")


@pytest.mark.parametrize("provider", ["openai", "azureopenai", "anthropic", "amazonbedrock", "elastic"])
def test_the_printed_create_command_saves_and_tests_against_the_fake(provider: str) -> None:
    """What `ai-connector fake PROVIDER` prints, run as printed, passes Save & test."""
    from ai_connector.testing.fake_command import create_command
    from ai_connector.testing.fakes import provider_fake

    with provider_fake(provider)() as service:
        line = create_command(service, f"Fake {provider}", "chat_completion")
        result = invoke(*_unquote(line)[1:])
    assert result.exit_code == 0, result.output
    assert re.search(rf"✓ Fake {provider}: connector test succeeded in \d+ ms", result.output)
