"""Host settings: the names operators rely on, environment over `ai-connector.toml`, defaults from
Kibana, and clear startup errors for values that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_connector.host.errors import SettingsError
from ai_connector.host.settings import ENV_VARS, HostSettings, default_home

KEY = "k" * 32


def write_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "ai-connector.toml").write_text(text)


def test_the_names_in_the_issue_are_the_environment_variables():
    assert {
        "AI_CONNECTOR_HOME",
        "AI_CONNECTOR_DATABASE_URL",
        "AI_CONNECTOR_ENCRYPTION_KEY",
        "AI_CONNECTOR_DECRYPTION_ONLY_KEYS",
        "AI_CONNECTOR_LICENSE",
        "AI_CONNECTOR_ALLOWED_HOSTS",
        "AI_CONNECTOR_API_KEYS",
    } <= set(ENV_VARS.values())


def test_defaults_make_the_embedded_host_work_out_of_the_box(tmp_path):
    s = HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.database_url == f"sqlite:///{tmp_path / 'connectors.db'}"
    assert s.embedded and s.sqlite_path == tmp_path / "connectors.db"
    assert s.key_file_path == tmp_path / "encryption.key"
    assert s.encryption_key is None and s.decryption_only_keys == []
    assert s.license == "trial"
    assert s.allowed_hosts == ["*"]
    assert s.enabled_connector_types == ["*"]
    assert s.api_keys == {}
    assert s.max_response_bytes == 1_048_576
    assert s.request_timeout == 120.0
    assert s.max_attempts == 3
    assert s.transport == "auto"
    assert s.preconfigured == {} and s.provider_settings == {}
    assert s.audit_log_path == tmp_path / "audit.log"


def test_the_default_home_is_the_platform_user_data_dir(monkeypatch):
    import platformdirs

    s = HostSettings.load(env={})
    assert s.home == default_home() == Path(platformdirs.user_data_dir("ai-connector", appauthor=False))


def test_every_name_is_read_from_the_environment(tmp_path):
    env = {
        "AI_CONNECTOR_HOME": str(tmp_path),
        "AI_CONNECTOR_DATABASE_URL": "postgresql://u:p@db.example.com/conn",
        "AI_CONNECTOR_ENCRYPTION_KEY": KEY,
        "AI_CONNECTOR_DECRYPTION_ONLY_KEYS": "o" * 32 + ", " + "p" * 33,
        "AI_CONNECTOR_LICENSE": "Basic",
        "AI_CONNECTOR_ALLOWED_HOSTS": "api.openai.com, example.com",
        "AI_CONNECTOR_API_KEYS": "key1:all,key2:read",
        "AI_CONNECTOR_ENABLED_CONNECTOR_TYPES": "openai",
        "AI_CONNECTOR_MAX_RESPONSE_BYTES": "2mb",
        "AI_CONNECTOR_REQUEST_TIMEOUT": "90s",
        "AI_CONNECTOR_MAX_ATTEMPTS": "5",
        "AI_CONNECTOR_TRANSPORT": "httpx",
        "AI_CONNECTOR_AUDIT_LOG": "logs/audit.jsonl",
        "AI_CONNECTOR_AUDIT_FLUSH_INTERVAL": "250ms",
        "AI_CONNECTOR_REVALIDATE_INTERVAL": "0",
    }
    s = HostSettings.load(env=env)
    assert s.database_url == "postgresql+psycopg://u:p@db.example.com/conn"  # psycopg 3 driver
    assert not s.embedded
    assert s.encryption_key == KEY
    assert s.decryption_only_keys == ["o" * 32, "p" * 33]
    assert s.license == "basic"
    assert s.allowed_hosts == ["api.openai.com", "example.com"]
    assert s.api_keys == {"key1": "all", "key2": "read"}
    assert s.enabled_connector_types == ["openai"]
    assert s.max_response_bytes == 2 * 1024 * 1024
    assert s.request_timeout == 90.0
    assert s.max_attempts == 5
    assert s.transport == "httpx"
    assert s.audit_log_path == tmp_path / "logs" / "audit.jsonl"
    assert s.audit_flush_interval == 0.25
    assert s.revalidate_interval == 0.0  # 0: read the row on every execute


def test_how_stale_a_connector_and_how_late_an_audit_line_may_be(tmp_path):
    s = HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})
    assert (s.revalidate_interval, s.audit_flush_interval) == (1.0, 0.5)
    for value in ("-1", "soon", "2h"):
        with pytest.raises(SettingsError, match="AI_CONNECTOR_REVALIDATE_INTERVAL: must be"):
            HostSettings.load(
                env={"AI_CONNECTOR_HOME": str(tmp_path), "AI_CONNECTOR_REVALIDATE_INTERVAL": value}
            )
    write_toml(tmp_path, "revalidate_interval = 0\naudit_flush_interval = 2\n")
    s = HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})
    assert (s.revalidate_interval, s.audit_flush_interval) == (0.0, 2.0)


def test_the_file_sets_everything_and_the_environment_wins(tmp_path):
    write_toml(
        tmp_path,
        f"""
license = "gold"
allowed_hosts = ["a.example.com"]
encryption_key = "{KEY}"
api_keys = {{ "filekey" = "read" }}
request_timeout = 30
AI_CONNECTOR_MAX_ATTEMPTS = 2

[provider_settings.elastic]
url = "https://es.example.com:9200"

[preconfigured.my-openai]
name = "Shared"
provider = "openai"
taskType = "chat_completion"
providerConfig = {{ model_id = "gpt-4o" }}
providerSecrets = {{ api_key = "sk-x" }}
exposeConfig = true
""",
    )
    s = HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path), "AI_CONNECTOR_LICENSE": "enterprise"})
    assert s.license == "enterprise"  # environment over file
    assert s.allowed_hosts == ["a.example.com"]
    assert s.encryption_key == KEY
    assert s.api_keys == {"filekey": "read"}
    assert s.request_timeout == 30.0
    assert s.max_attempts == 2  # the variable's own name works in the file too
    assert s.provider_settings == {"elastic": {"url": "https://es.example.com:9200"}}
    assert s.preconfigured["my-openai"]["exposeConfig"] is True


@pytest.mark.parametrize("bad_id", ["", "__proto__", "constructor"])
def test_kibanas_reserved_preconfigured_ids_are_rejected_at_load(tmp_path, bad_id):
    write_toml(
        tmp_path,
        f"""
[preconfigured."{bad_id}"]
name = "x"
provider = "fake"
taskType = "chat_completion"
""",
    )
    with pytest.raises(SettingsError, match="not allowed for a preconfigured connector"):
        HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"AI_CONNECTOR_ENCRYPTION_KEY": "short"}, "at least 32 characters"),
        ({"AI_CONNECTOR_ENCRYPTION_KEY": KEY, "AI_CONNECTOR_DECRYPTION_ONLY_KEYS": "x" * 31}, "key #1"),
        ({"AI_CONNECTOR_LICENSE": "platinum-plus"}, "AI_CONNECTOR_LICENSE"),
        ({"AI_CONNECTOR_ALLOWED_HOSTS": "https://example.com/path"}, "AI_CONNECTOR_ALLOWED_HOSTS"),
        ({"AI_CONNECTOR_API_KEYS": "k1:write"}, "'all' or 'read'"),
        ({"AI_CONNECTOR_API_KEYS": "nocolon"}, "key:all or key:read"),
        ({"AI_CONNECTOR_MAX_ATTEMPTS": "11"}, "from 1 to 10"),
        ({"AI_CONNECTOR_REQUEST_TIMEOUT": "-1"}, "duration"),
        ({"AI_CONNECTOR_TRANSPORT": "curl"}, "auto, httpx, aiohttp"),
        ({"AI_CONNECTOR_DATABASE_URL": "mysql://x/y"}, "sqlite"),
        ({"AI_CONNECTOR_DATABASE_URL": "postgresql://db/x"}, "AI_CONNECTOR_ENCRYPTION_KEY is required"),
    ],
)
def test_values_that_cannot_work_are_clear_startup_errors(tmp_path, env, match):
    with pytest.raises(SettingsError, match=match):
        HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path), **env})


def test_a_short_key_error_names_the_variable_but_not_the_key(tmp_path):
    with pytest.raises(SettingsError) as info:
        HostSettings.load(
            env={"AI_CONNECTOR_HOME": str(tmp_path), "AI_CONNECTOR_ENCRYPTION_KEY": "hunter2hunter2"}
        )
    assert "AI_CONNECTOR_ENCRYPTION_KEY" in info.value.message
    assert "hunter2" not in info.value.message


def test_unknown_and_misplaced_file_keys_are_errors(tmp_path):
    write_toml(tmp_path, 'licence = "basic"\n')
    with pytest.raises(SettingsError, match="unknown setting 'licence'"):
        HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})
    write_toml(tmp_path, 'home = "/elsewhere"\n')
    with pytest.raises(SettingsError, match="AI_CONNECTOR_HOME"):
        HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})
    write_toml(tmp_path, "license = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})


def test_preconfigured_entries_are_checked_for_shape(tmp_path):
    write_toml(tmp_path, '[preconfigured.x]\nname = "x"\nprovider = "fake"\n')
    with pytest.raises(SettingsError, match="needs taskType"):
        HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})
    write_toml(tmp_path, '[preconfigured.x]\nname = "x"\nprovider = "f"\ntaskType = "t"\nsecrets = {}\n')
    with pytest.raises(SettingsError, match="unknown keys"):
        HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})


def test_the_repr_never_shows_keys_or_preconfigured_secrets(tmp_path):
    s = HostSettings.load(
        env={
            "AI_CONNECTOR_HOME": str(tmp_path),
            "AI_CONNECTOR_ENCRYPTION_KEY": "s3cret-" * 6,
            "AI_CONNECTOR_API_KEYS": "apikey-visible-nowhere:all",
        }
    )
    assert "s3cret" not in repr(s) and "apikey-visible-nowhere" not in repr(s)


def test_runtime_settings_carry_the_host_rules(tmp_path):
    s = HostSettings.load(
        env={
            "AI_CONNECTOR_HOME": str(tmp_path),
            "AI_CONNECTOR_ALLOWED_HOSTS": "api.example.com",
            "AI_CONNECTOR_REQUEST_TIMEOUT": "7",
            "AI_CONNECTOR_MAX_ATTEMPTS": "2",
            "AI_CONNECTOR_MAX_RESPONSE_BYTES": "1000",
        }
    )
    rs = s.runtime_settings()
    assert rs.allowed_hosts == ("api.example.com",)
    assert rs.timeout == 7.0 and rs.max_attempts == 2 and rs.max_response_bytes == 1000
