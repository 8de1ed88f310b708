"""The connector CLI on the embedded default (SQLite under a temp AI_CONNECTOR_HOME), with the real
OpenAI plugin (loaded by entry point, as a user's CLI does) talking to its wire-exact fake:
create, list, get, update, delete, test, run, rotate-key and serve. `--json` outputs are parsed and
asserted whole; no output ever holds a secret; errors are one `error: ...` line and exit status 1."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ai_connector.cli import cli
from ai_connector.testing import FakeServer

openai_testing = pytest.importorskip("ai_connector_openai.testing")

CANARY = "sk-canary-cli-5f1e2d3c4b5a69788796"


@pytest.fixture(scope="module")
def server():
    with FakeServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def fake_openai(server: FakeServer):
    server.reset()
    openai_testing.OpenAIFake(server, api_key=CANARY).install()
    return server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for var in list(os.environ):
        if var.startswith("AI_CONNECTOR_"):
            monkeypatch.delenv(var)
    home = tmp_path / "home"
    monkeypatch.setenv("AI_CONNECTOR_HOME", str(home))
    return home


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)
    assert CANARY not in result.output, "a secret was printed"
    return result


def create_args(server: FakeServer, *, cid: str = "oa", task: str = "chat_completion") -> list[str]:
    config, _ = openai_testing.connector(server.url, task)
    args = ["create", "--id", cid, "--name", "My OpenAI", "-p", "openai", "-t", task]
    for key, value in config.items():
        args += ["-c", f"{key}={value}"]
    return args


def saved(
    server: FakeServer, cid: str = "oa", *, name: str = "My OpenAI", inference_id: str
) -> dict[str, Any]:
    config, _ = openai_testing.connector(server.url)
    return {
        "id": cid,
        "name": name,
        "config": {
            "inferenceId": inference_id,
            "provider": "openai",
            "providerConfig": config,
            "taskType": "chat_completion",
            "taskTypeConfig": {},
        },
        "connector_type_id": ".inference",
        "is_preconfigured": False,
        "is_deprecated": False,
        "is_missing_secrets": False,
        "is_system_action": False,
        "is_connector_type_deprecated": False,
    }


def _create(
    server: FakeServer, *extra: str, cid: str = "oa", task: str = "chat_completion"
) -> dict[str, Any]:
    result = invoke(*create_args(server, cid=cid, task=task), "--secret-env", "api_key=OPENAI_KEY", "--json",
                    *extra, env={"OPENAI_KEY": CANARY})  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- create -------------------------------------------------------------------------------------


def test_create_with_a_secret_from_the_environment_prints_the_connector(home, server) -> None:
    body = _create(server)
    assert body == saved(server, inference_id=body["config"]["inferenceId"])
    assert body["config"]["inferenceId"].startswith("openai-chat_completion-")
    assert CANARY not in (home / "connectors.db").read_bytes().decode("latin-1")


def test_create_prompts_for_a_secret_without_echo_and_tests_it(home, server) -> None:
    result = invoke(*create_args(server), "--secret", "api_key", "--test", input=CANARY + "\n")
    assert result.exit_code == 0, result.output
    assert "API Key (api_key):" in result.stderr
    assert result.stdout.splitlines()[0] == "Created connector 'My OpenAI' (oa)"
    assert result.stdout.splitlines()[1].startswith("✓ My OpenAI: connector test succeeded in ")
    assert server.last.headers["authorization"] == f"Bearer {CANARY}"


def test_create_and_test_json_reports_both(home, server) -> None:
    body = _create(server, "--test")
    assert set(body) == {"connector", "test"}
    assert body["test"] == {**body["test"], "status": "succeeded", "failure": None, "status_code": None}


def test_create_with_a_wrong_key_saves_but_exits_1_on_the_failed_test(home, server) -> None:
    result = invoke(*create_args(server), "--secret", "api_key=sk-wrong-key-000000000", "--test")
    assert result.exit_code == 1
    assert "Created connector 'My OpenAI' (oa)" in result.stdout
    assert "✗ My OpenAI: connector test failed (credentials)" in result.stderr
    assert "sk-wrong-key-000000000" not in result.output
    assert json.loads(invoke("list", "--json").stdout)[0]["id"] == "oa"


def test_create_from_a_file_with_options_overriding_it(home, server, tmp_path) -> None:
    config, _ = openai_testing.connector(server.url)
    doc = {"name": "From file", "config": {"provider": "openai", "taskType": "chat_completion",
                                           "providerConfig": config}}  # fmt: skip
    path = tmp_path / "connector.json"
    path.write_text(json.dumps(doc))
    result = invoke("create", "--from-file", str(path), "--id", "ff", "--name", "Overridden",
                    "--secret-env", "api_key=K", "--context-window-length", "4096", "--json",
                    env={"K": CANARY})  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["name"], body["config"]["contextWindowLength"]) == ("Overridden", 4096)


def test_config_values_are_json_when_they_parse(home, server) -> None:
    body = _create(server, "-c", "rate_limit.requests_per_minute=20")
    assert body["config"]["providerConfig"]["rate_limit"] == {"requests_per_minute": 20}


def test_create_with_invalid_settings_is_one_error_line(home, server) -> None:
    result = invoke("create", "--name", "x", "-p", "openai", "-t", "chat_completion")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: error validating connector type config: [config.providerConfig.model_id]: Model ID is "
        "required; [secrets.providerSecrets.api_key]: API Key is required\n"
    )


def test_create_needs_a_name_provider_and_task_type(home) -> None:
    result = invoke("create", "--name", "x")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: missing --provider, --task-type (or give them in --from-file)\n",
    )


def test_a_missing_secret_environment_variable_is_named(home, server) -> None:
    result = invoke(*create_args(server), "--secret-env", "api_key=NOT_SET_ANYWHERE")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: environment variable NOT_SET_ANYWHERE is not set "
        "(for --secret-env api_key=NOT_SET_ANYWHERE)\n"
    )


# --- list, get ----------------------------------------------------------------------------------


def test_list_and_get(home, server) -> None:
    created = _create(server)
    listed = invoke("list", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == [{**created, "referenced_by_count": 0}]
    table = invoke("list").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "SERVICE", "TASK", "TYPE", "NOTES"]
    assert table[1].split() == ["oa", "My", "OpenAI", "openai", "chat_completion"]
    got = invoke("get", "oa", "--json")
    assert json.loads(got.stdout) == created
    invoke("test", "oa")
    human = invoke("get", "oa").stdout
    assert "Service        openai" in human
    assert "Last test      succeeded " in human
    assert 'model_id = "gpt-4o-mini"' in human


def test_list_with_no_connectors_says_how_to_create_one(home) -> None:
    result = invoke("list")
    assert result.stdout == "No connectors yet. Create one with `ai-connector create` (see --help).\n"


def test_get_an_unknown_connector_is_one_error_line_and_debug_shows_the_traceback(home) -> None:
    result = invoke("get", "nope")
    assert (result.exit_code, result.stderr) == (1, "error: Saved object [action/nope] not found\n")
    debug = invoke("get", "nope", "--debug")
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.endswith("error: Saved object [action/nope] not found\n")


# --- update -------------------------------------------------------------------------------------


def test_update_renames_and_needs_the_secrets_again(home, server) -> None:
    created = _create(server)
    result = invoke(
        "update", "oa", "--name", "Renamed", "--secret-env", "api_key=K", "--json", env={"K": CANARY}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {**created, "name": "Renamed"}
    without = invoke("update", "oa", "--name", "Again")
    assert without.exit_code == 1
    assert without.stderr == (
        "error: error validating connector type secrets: [secrets.providerSecrets.api_key]: API Key is "
        "required. As in Kibana, an update must give the secrets again: --secret KEY (prompted), "
        "--secret KEY=VALUE or --secret-env KEY=VAR\n"
    )
    assert json.loads(invoke("get", "oa", "--json").stdout)["name"] == "Renamed"


def test_update_changes_a_setting(home, server) -> None:
    _create(server)
    result = invoke("update", "oa", "-c", "model_id=text-embedding-3-small", "--secret",
                    f"api_key={CANARY}", "--json")  # fmt: skip
    assert json.loads(result.stdout)["config"]["providerConfig"]["model_id"] == "text-embedding-3-small"


# --- test ---------------------------------------------------------------------------------------


def test_test_json_and_exit_status(home, server) -> None:
    _create(server)
    ok = invoke("test", "oa", "--json")
    assert ok.exit_code == 0
    body = json.loads(ok.stdout)
    assert body == {
        "connector_id": "oa",
        "status": "succeeded",
        "message": "Connector test succeeded",
        "latency_ms": body["latency_ms"],
        "failure": None,
        "status_code": None,
    }
    server.add("POST", "/v1/chat/completions", openai_testing.invalid_api_key_response(CANARY))
    failed = invoke("test", "oa", "--json")
    assert failed.exit_code == 1
    body = json.loads(failed.stdout)
    assert (body["status"], body["failure"], body["status_code"]) == ("failed", "credentials", 401)


# --- run ----------------------------------------------------------------------------------------


def test_run_streams_the_answer(home, server) -> None:
    _create(server)
    result = invoke("run", "oa", "Say hello")
    assert (result.exit_code, result.stdout) == (0, "Hello there!\n")
    sent = server.last.json()
    assert sent["stream"] is True
    assert sent["messages"] == [{"role": "user", "content": "Say hello"}]


def test_run_reads_the_prompt_from_stdin(home, server) -> None:
    _create(server)
    result = invoke("run", "oa", "--system", "Be brief.", input="from stdin\n")
    assert result.stdout == "Hello there!\n"
    assert server.last.json()["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "from stdin"},
    ]


def test_run_json_prints_the_chat_completion(home, server) -> None:
    _create(server)
    result = invoke("run", "oa", "hi", "--json")
    body = json.loads(result.stdout)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "Hello there!"


def test_run_an_embedding_connector_prints_json(home, server) -> None:
    _create(server, cid="emb", task="text_embedding")
    result = invoke("run", "emb", "embed me")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"embedding": [0.1, 0.11, 0.12, 0.13]}]


def test_a_failed_run_is_one_error_line(home, server) -> None:
    _create(server)
    server.add("POST", "/v1/chat/completions", openai_testing.server_error_response())
    result = invoke("run", "oa", "hi", "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: an error occurred while running the action: Inference endpoint [")
    assert "] returned status code 500: " in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_run_without_a_prompt_says_so(home, server) -> None:
    _create(server)
    result = invoke("run", "oa", input="")
    assert (result.exit_code, result.stderr) == (1, "error: no prompt: give one as an argument or on stdin\n")


# --- delete -------------------------------------------------------------------------------------


def test_delete_asks_first(home, server) -> None:
    _create(server)
    kept = invoke("delete", "oa", input="n\n")
    assert kept.exit_code == 1
    assert "Delete connector 'My OpenAI' (oa)? It cannot be recovered." in kept.stderr
    assert len(json.loads(invoke("list", "--json").stdout)) == 1
    gone = invoke("delete", "oa", "--yes")
    assert (gone.exit_code, gone.stdout) == (0, "Deleted connector 'My OpenAI' (oa)\n")
    assert json.loads(invoke("list", "--json").stdout) == []
    again = invoke("delete", "oa", "--yes")
    assert (again.exit_code, again.stderr) == (1, "error: Saved object [action/oa] not found\n")


# --- rotate-key ---------------------------------------------------------------------------------


def test_rotate_key_re_encrypts_with_the_new_key(home, server, monkeypatch) -> None:
    old = "o" * 40
    monkeypatch.setenv("AI_CONNECTOR_ENCRYPTION_KEY", old)
    _create(server)
    monkeypatch.setenv("AI_CONNECTOR_ENCRYPTION_KEY", "n" * 40)
    monkeypatch.setenv("AI_CONNECTOR_DECRYPTION_ONLY_KEYS", old)
    result = invoke("rotate-key", "--json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, {"total": 1, "successful": 1, "failed": 0})
    monkeypatch.delenv("AI_CONNECTOR_DECRYPTION_ONLY_KEYS")
    assert invoke("test", "oa").exit_code == 0  # readable with the new key alone
    human = invoke("rotate-key")
    assert human.stdout == "Re-encrypted 1 of 1 connector(s); 0 failed.\n"


# --- serve --------------------------------------------------------------------------------------


def test_serve_generates_a_key_file_and_prints_where_it_is_not_the_key(home, monkeypatch) -> None:
    import uvicorn

    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append({"app": app, **kw}))
    first = invoke("serve", "--port", "5999")
    assert first.exit_code == 0, first.output
    key_file = home / "api-key"
    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key not in first.output
    assert f"generated one with the `all` privilege in {key_file} (mode 0600)" in first.stderr
    assert f"cat {key_file}" in first.stderr
    assert "Web page: http://127.0.0.1:5999/" in first.stderr
    assert (runs[0]["host"], runs[0]["port"]) == ("127.0.0.1", 5999)
    second = invoke("serve")
    assert f"using the `all` key stored in {key_file}" in second.stderr
    assert key_file.read_text().strip() == key
    assert runs[1]["port"] == 5601

    assert asyncio.run(_list_with(runs[1]["app"], key)) == (401, 200, [])


async def _list_with(app: Any, key: str) -> tuple[int, int, Any]:
    """The app `serve` built, started (its lifespan opens the service) and asked for the list."""
    import httpx

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        anonymous = await client.get("/api/actions/connectors")
        ok = await client.get("/api/actions/connectors", headers={"Authorization": f"ApiKey {key}"})
        return anonymous.status_code, ok.status_code, ok.json()


def test_serve_with_configured_keys_writes_no_key_file(home, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setenv("AI_CONNECTOR_API_KEYS", "k1-0123456789:all")
    result = invoke("serve", "--host", "0.0.0.0")
    assert "API keys: 1 configured" in result.stderr
    assert "k1-0123456789" not in result.output
    assert "warning: listening on 0.0.0.0 over plain HTTP" in result.stderr
    assert not (home / "api-key").exists()


def test_serve_with_a_broken_configuration_is_one_error_line(home, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("must not start"))
    home.mkdir(parents=True)
    (home / "ai-connector.toml").write_text('[preconfigured.x]\nname = "x"\nprovider = "openai"\n'
                                            'taskType = "chat_completion"\n')  # fmt: skip
    result = invoke("serve")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"error: [preconfigured.x] in {home / 'ai-connector.toml'} is invalid: "
    )
    assert not (home / "api-key").exists()
