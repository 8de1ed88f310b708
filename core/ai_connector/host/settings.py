"""The host's settings: environment variables first, then `ai-connector.toml` in the data directory.

Every setting named in the product's "Names" list has an environment variable, and each is also
settable in the file (by its lower-case name without the prefix, e.g. `license = "basic"`, or by the
variable's own name). The environment wins over the file, so an operator can override one value
without editing it. `AI_CONNECTOR_HOME` itself can only come from the environment: the file lives
in it. Defaults follow Kibana's `xpack.actions.*` (allowed hosts `*`, 1 MB responses, 3 attempts)
and the LLM connectors' two-minute request timeout.

```toml
license = "enterprise"
allowed_hosts = ["api.openai.com"]
api_keys = { "k3y-for-ci" = "read" }

[preconfigured.my-openai]            # Kibana's xpack.actions.preconfigured
name = "OpenAI (shared)"
provider = "openai"
taskType = "chat_completion"
providerConfig = { model_id = "gpt-4o" }
providerSecrets = { api_key = "sk-..." }
exposeConfig = false

[provider_settings.elastic]          # the host's own settings for one provider
url = "https://es.example.com:9200"
```
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai_connector.host.errors import SettingsError

if TYPE_CHECKING:
    from ai_connector.runtime import RuntimeSettings

__all__ = [
    "CONFIG_FILE_NAME",
    "DATABASE_FILE_NAME",
    "ENV_VARS",
    "KEY_FILE_NAME",
    "LICENSE_TYPES",
    "MIN_KEY_LENGTH",
    "RESERVED_PRECONFIGURED_IDS",
    "HostSettings",
    "default_home",
]

log = logging.getLogger("ai_connector.host")

CONFIG_FILE_NAME = "ai-connector.toml"
DATABASE_FILE_NAME = "connectors.db"
KEY_FILE_NAME = "encryption.key"
AUDIT_FILE_NAME = "audit.log"
MIN_KEY_LENGTH = 32  # Kibana's xpack.encryptedSavedObjects.encryptionKey minimum
LICENSE_TYPES = ("basic", "gold", "platinum", "enterprise", "trial")
TRANSPORTS = ("auto", "httpx", "aiohttp")
PRIVILEGES = ("all", "read")
# Kibana rejects these preconfigured ids at config load (they would poison a JS object map).
RESERVED_PRECONFIGURED_IDS = frozenset({"", "__proto__", "constructor"})
_PRECONFIGURED_KEYS = frozenset(
    {
        "name",
        "provider",
        "taskType",
        "inferenceId",
        "providerConfig",
        "providerSecrets",
        "taskTypeConfig",
        "contextWindowLength",
        "temperature",
        "headers",
        "exposeConfig",
    }
)

# field name -> environment variable
ENV_VARS: Mapping[str, str] = {
    "home": "AI_CONNECTOR_HOME",
    "database_url": "AI_CONNECTOR_DATABASE_URL",
    "encryption_key": "AI_CONNECTOR_ENCRYPTION_KEY",
    "decryption_only_keys": "AI_CONNECTOR_DECRYPTION_ONLY_KEYS",
    "license": "AI_CONNECTOR_LICENSE",
    "allowed_hosts": "AI_CONNECTOR_ALLOWED_HOSTS",
    "api_keys": "AI_CONNECTOR_API_KEYS",
    "enabled_connector_types": "AI_CONNECTOR_ENABLED_CONNECTOR_TYPES",
    "max_response_bytes": "AI_CONNECTOR_MAX_RESPONSE_BYTES",
    "max_payload_bytes": "AI_CONNECTOR_MAX_PAYLOAD_BYTES",
    "request_timeout": "AI_CONNECTOR_REQUEST_TIMEOUT",
    "max_attempts": "AI_CONNECTOR_MAX_ATTEMPTS",
    "transport": "AI_CONNECTOR_TRANSPORT",
    "audit_log_path": "AI_CONNECTOR_AUDIT_LOG",
    "audit_flush_interval": "AI_CONNECTOR_AUDIT_FLUSH_INTERVAL",
    "revalidate_interval": "AI_CONNECTOR_REVALIDATE_INTERVAL",
    "openai_api_prefix": "AI_CONNECTOR_OPENAI_API_PREFIX",
}


def default_home() -> Path:
    """The platform's user data directory for ai-connector (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("ai-connector", appauthor=False))


@dataclass(frozen=True)
class HostSettings:
    """Everything the host is configured with; build it with `HostSettings.load()`.

    Secret-bearing fields (keys, API keys, preconfigured connectors) are left out of the repr.
    """

    home: Path
    database_url: str
    encryption_key: str | None = field(default=None, repr=False)
    decryption_only_keys: list[str] = field(default_factory=list, repr=False)
    license: str = "trial"
    allowed_hosts: list[str] = field(default_factory=lambda: ["*"])
    api_keys: dict[str, str] = field(default_factory=dict, repr=False)
    enabled_connector_types: list[str] = field(default_factory=lambda: ["*"])
    max_response_bytes: int = 1_048_576
    # Request bodies over this are refused with 413 before they are read (Kibana's server.maxPayload).
    max_payload_bytes: int = 1_048_576
    request_timeout: float = 120.0
    max_attempts: int = 3
    transport: str = "auto"
    preconfigured: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    provider_settings: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    audit_log_path: Path = Path(AUDIT_FILE_NAME)
    # How long execute/get/list audit lines may wait in memory before they are written (0: written
    # before the call returns). Creates, updates, deletes and tests are always written at once.
    audit_flush_interval: float = 0.5
    # How long a host may run a saved connector from its in-memory state before checking the
    # stored row again (0: check on every execute). Bounds how stale another host's change can be.
    revalidate_interval: float = 1.0
    # Where `serve` answers OpenAI's API (`/v1/chat/completions`, ...); "" turns it off.
    openai_api_prefix: str = "/v1"

    # ------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, *, home: Path | str | None = None) -> HostSettings:
        """Read the environment (default `os.environ`) and `<home>/ai-connector.toml`.

        Raises SettingsError naming the variable (or file key) at fault.
        """
        env = os.environ if env is None else env
        home_value = home if home is not None else (env.get(ENV_VARS["home"]) or None)
        home_path = Path(home_value).expanduser() if home_value else default_home()
        file_values = _read_file(home_path / CONFIG_FILE_NAME)

        def raw(name: str) -> tuple[Any, str] | None:
            var = ENV_VARS.get(name)
            if var and env.get(var, "").strip() != "":
                return env[var], var
            if name in file_values:
                return file_values[name], f"{name} in {CONFIG_FILE_NAME}"
            return None

        values: dict[str, Any] = {"home": home_path}
        for name, parse in _PARSERS.items():
            got = raw(name)
            if got is not None:
                value, where = got
                try:
                    values[name] = parse(value)
                except (TypeError, ValueError) as exc:
                    raise SettingsError(f"{where}: {exc}") from None
        values.setdefault("database_url", f"sqlite:///{home_path / DATABASE_FILE_NAME}")
        audit = values.get("audit_log_path")
        if audit is None:
            values["audit_log_path"] = home_path / AUDIT_FILE_NAME
        elif not audit.is_absolute():
            values["audit_log_path"] = home_path / audit
        return cls(**values)

    def __post_init__(self) -> None:
        # Checks that also apply to settings built directly (tests, host applications).
        if self.encryption_key is not None and len(self.encryption_key) < MIN_KEY_LENGTH:
            raise SettingsError(
                f"{ENV_VARS['encryption_key']} must be at least {MIN_KEY_LENGTH} characters "
                f"(it has {len(self.encryption_key)}); generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        for i, key in enumerate(self.decryption_only_keys):
            if len(key) < MIN_KEY_LENGTH:
                raise SettingsError(
                    f"{ENV_VARS['decryption_only_keys']}: key #{i + 1} must be at least "
                    f"{MIN_KEY_LENGTH} characters (it has {len(key)})"
                )
        if self.license not in LICENSE_TYPES:
            raise SettingsError(
                f"{ENV_VARS['license']} must be one of {', '.join(LICENSE_TYPES)} (got {self.license!r})"
            )
        for name in ("audit_flush_interval", "revalidate_interval"):
            if not 0 <= getattr(self, name) <= 3600:
                raise SettingsError(f"{ENV_VARS[name]} must be from 0 to 3600 seconds")
        if not self.embedded and not self.encryption_key:
            raise SettingsError(
                f"{ENV_VARS['encryption_key']} is required when {ENV_VARS['database_url']} selects a "
                "shared database: every host sharing the store must use the same key (a generated "
                "key file only exists on the embedded SQLite default)"
            )

    # ------------------------------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """True when the store is a SQLite file (the embedded default), so a key file may be generated."""
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for another backend or an in-memory database."""
        if not self.embedded:
            return None
        from sqlalchemy.engine import make_url

        database = make_url(self.database_url).database
        if not database or database == ":memory:":
            return None
        return Path(database)

    @property
    def key_file_path(self) -> Path:
        """Where the generated encryption key lives: beside the SQLite database."""
        db = self.sqlite_path
        return (db.parent if db is not None else self.home) / KEY_FILE_NAME

    @property
    def config_file_path(self) -> Path:
        """`<home>/ai-connector.toml`."""
        return self.home / CONFIG_FILE_NAME

    def replace(self, **changes: Any) -> HostSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def runtime_settings(self) -> RuntimeSettings:
        """The runtime's settings from these host rules."""
        from ai_connector.runtime import RuntimeSettings

        return RuntimeSettings(
            timeout=self.request_timeout,
            max_attempts=self.max_attempts,
            max_response_bytes=self.max_response_bytes,
            allowed_hosts=tuple(self.allowed_hosts),
            transport=self.transport,
            provider_settings={k: dict(v) for k, v in self.provider_settings.items()},
        )


# ---------------------------------------------------------------------------------------------
# The file


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO) and _has_secrets(parsed):
            log.warning("%s holds secrets and is readable by other users; chmod 600 it", path)
    except OSError:
        pass
    by_env = {v: k for k, v in ENV_VARS.items()}
    out: dict[str, Any] = {}
    for key, value in parsed.items():
        name = by_env.get(key, key)
        if name == "home":
            raise SettingsError(
                f"{path}: home cannot be set in the file that lives in it; use AI_CONNECTOR_HOME"
            )
        if name not in _PARSERS:
            known = ", ".join(sorted(_PARSERS))
            raise SettingsError(f"{path}: unknown setting {key!r} (known: {known})")
        if name in out:
            raise SettingsError(f"{path}: {name} is set twice ({key!r} and its other spelling)")
        out[name] = value
    return out


def _has_secrets(parsed: Mapping[str, Any]) -> bool:
    keys = {"encryption_key", "decryption_only_keys", "api_keys", "preconfigured"}
    return any(k in parsed or ENV_VARS.get(k, "") in parsed for k in keys)


# ---------------------------------------------------------------------------------------------
# Parsers (each raises ValueError with a message that names no secret value)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    if isinstance(value, list | tuple):
        if not all(isinstance(x, str) for x in value):
            raise ValueError("must be a list of strings")
        return [x.strip() for x in value if x.strip()]
    raise ValueError("must be a comma-separated string or a list of strings")


def _parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip()


def _parse_database_url(value: Any) -> str:
    url = _parse_str(value)
    if not url:
        raise ValueError("must not be empty")
    # Operators write postgresql://; the driver this package ships with is psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    if not (url.startswith("sqlite") or url.startswith("postgresql")):
        raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
    return url


def _parse_key(value: Any) -> str | None:
    key = _parse_str(value)
    return key or None


def _parse_keys(value: Any) -> list[str]:
    return _as_list(value)


def _parse_license(value: Any) -> str:
    lic = _parse_str(value).lower()
    if lic not in LICENSE_TYPES:
        raise ValueError(f"must be one of {', '.join(LICENSE_TYPES)}")
    return lic


def _parse_hosts(value: Any) -> list[str]:
    from ai_connector.urlpolicy import UrlPolicy

    hosts = _as_list(value)
    if not hosts:
        raise ValueError("must list at least one hostname, or '*'")
    UrlPolicy(hosts)  # raises ValueError naming a bad entry
    return hosts


def _parse_api_keys(value: Any) -> dict[str, str]:
    pairs: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        for i, item in enumerate(_as_list(value)):
            key, sep, privilege = item.rpartition(":")
            if not sep:
                raise ValueError(f"entry #{i + 1} must be key:all or key:read")
            pairs.append((key, privilege))
    out: dict[str, str] = {}
    for i, (key, privilege) in enumerate(pairs):
        privilege = privilege.strip().lower()
        if not key.strip():
            raise ValueError(f"entry #{i + 1} has an empty key")
        if privilege not in PRIVILEGES:
            raise ValueError(f"entry #{i + 1}: the privilege must be 'all' or 'read'")
        out[key.strip()] = privilege
    return out


def _parse_types(value: Any) -> list[str]:
    types = _as_list(value)
    return types


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def _parse_size(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a size such as 1048576 or 1mb")
    if isinstance(value, int):
        size = value
    else:
        m = _SIZE.match(str(value))
        if not m:
            raise ValueError("must be a size such as 1048576 or 1mb")
        size = int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower() or None])
    if size < 1:
        raise ValueError("must be at least 1 byte")
    return size


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$", re.IGNORECASE)


def _parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a duration in seconds, such as 120 or 2m")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError("must be a duration in seconds, such as 120, 90s, 1500ms or 2m")
        unit = (m.group(2) or "s").lower()
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]
    if seconds <= 0:
        raise ValueError("must be greater than 0")
    return seconds


def _parse_interval(value: Any) -> float:
    """A duration that may be 0 (which turns the delay off), at most an hour."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if (match is not None and float(match.group(1)) == 0) or (
        isinstance(value, int | float) and not isinstance(value, bool) and value == 0
    ):
        return 0.0
    try:
        seconds = _parse_duration(value)
    except ValueError:
        raise ValueError("must be a duration of 0 or more, such as 0, 1, 250ms or 2s") from None
    if seconds > 3600:
        raise ValueError("must be at most an hour")
    return seconds


def _parse_attempts(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer from 1 to 10")
    attempts = int(value)
    if not 1 <= attempts <= 10:  # Kibana's run.maxAttempts range
        raise ValueError("must be an integer from 1 to 10")
    return attempts


def _parse_transport(value: Any) -> str:
    transport = _parse_str(value).lower()
    if transport not in TRANSPORTS:
        raise ValueError(f"must be one of {', '.join(TRANSPORTS)}")
    return transport


def _parse_prefix(value: Any) -> str:
    prefix = _parse_str(value).rstrip("/")
    if prefix.lower() in ("off", "none", "false"):
        return ""
    if prefix and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", prefix):
        raise ValueError('must be a URL path such as "/v1" (or "off")')
    return prefix


def _parse_path(value: Any) -> Path:
    return Path(_parse_str(value)).expanduser()


def _parse_preconfigured(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise ValueError("must be a table of [preconfigured.<id>] tables")
    out: dict[str, dict[str, Any]] = {}
    for cid, entry in value.items():
        if cid in RESERVED_PRECONFIGURED_IDS:
            raise ValueError(f"the id {cid!r} is not allowed for a preconfigured connector")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", cid) or len(cid) > 256:
            raise ValueError(
                f"preconfigured id {cid!r} must start with a letter or digit and use only "
                "letters, digits, '_', '.' and '-'"
            )
        if not isinstance(entry, Mapping):
            raise ValueError(f"[preconfigured.{cid}] must be a table")
        unknown = sorted(set(entry) - _PRECONFIGURED_KEYS)
        if unknown:
            raise ValueError(
                f"[preconfigured.{cid}] has unknown keys {unknown} "
                f"(known: {', '.join(sorted(_PRECONFIGURED_KEYS))})"
            )
        missing = [k for k in ("name", "provider", "taskType") if not entry.get(k)]
        if missing:
            raise ValueError(f"[preconfigured.{cid}] needs {', '.join(missing)}")
        if "exposeConfig" in entry and not isinstance(entry["exposeConfig"], bool):
            raise ValueError(f"[preconfigured.{cid}] exposeConfig must be true or false")
        out[cid] = dict(entry)
    return out


def _parse_provider_settings(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ValueError("must be a table of [provider_settings.<provider id>] tables")
    return {str(k): dict(v) for k, v in value.items()}


_PARSERS: dict[str, Any] = {
    "database_url": _parse_database_url,
    "encryption_key": _parse_key,
    "decryption_only_keys": _parse_keys,
    "license": _parse_license,
    "allowed_hosts": _parse_hosts,
    "api_keys": _parse_api_keys,
    "enabled_connector_types": _parse_types,
    "max_response_bytes": _parse_size,
    "max_payload_bytes": _parse_size,
    "request_timeout": _parse_duration,
    "max_attempts": _parse_attempts,
    "transport": _parse_transport,
    "audit_log_path": _parse_path,
    "audit_flush_interval": _parse_interval,
    "revalidate_interval": _parse_interval,
    "openai_api_prefix": _parse_prefix,
    "preconfigured": _parse_preconfigured,
    "provider_settings": _parse_provider_settings,
}
