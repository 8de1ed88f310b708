"""Who is calling and what they may do: `Authorization: ApiKey <key>` against the host's keys
(key -> `all` | `read`, Kibana's "Actions and Connectors" feature privileges), and the `kbn-xsrf`
header Kibana requires on every mutating call (its CSRF defence)."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Container, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_connector.api.errors import ApiError

__all__ = [
    "ALL",
    "API_KEY_FILE",
    "READ",
    "ApiKeyAuth",
    "Principal",
    "caller_of",
    "ensure_api_key_file",
    "key_id",
    "require_xsrf",
]

ALL = "all"
READ = "read"
PRIVILEGES = (ALL, READ)
API_KEY_FILE = "api-key"  # under the data directory, written by `serve` when no key is configured
XSRF_HEADER = "kbn-xsrf"
VERSION_HEADER = "kbn-version"
MUTATING_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def key_id(key: str) -> str:
    """A stable, non-secret name for an API key (what the audit log records as the user)."""
    return "api_key:" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the key's id (never the key) and its privilege."""

    id: str
    privilege: str

    @property
    def can_write(self) -> bool:
        """`all` may create, update and delete connectors; `read` may not."""
        return self.privilege == ALL


class ApiKeyAuth:
    """Checks `Authorization: ApiKey <key>` headers against the configured keys.

    Keys are held only as SHA-256 digests, so a lookup compares digests (no timing oracle on the
    key itself) and a memory dump of this object shows no key.
    """

    def __init__(self, api_keys: Mapping[str, str]) -> None:
        self._by_digest: dict[str, Principal] = {}
        for key, privilege in api_keys.items():
            if privilege not in PRIVILEGES:
                raise ValueError(f"API key {key_id(key)} has privilege {privilege!r}; use 'all' or 'read'")
            self._by_digest[hashlib.sha256(key.encode()).hexdigest()] = Principal(key_id(key), privilege)

    def __len__(self) -> int:
        return len(self._by_digest)

    def authenticate(self, authorization: str | None, path: str) -> Principal:
        """The caller, or a 401 in the words Elasticsearch uses."""
        if not authorization or not authorization.strip():
            raise ApiError(
                401,
                f"missing authentication credentials for REST request [{path}]",
                headers={"WWW-Authenticate": 'ApiKey realm="ai-connector"'},
            )
        scheme, _, token = authorization.strip().partition(" ")
        principal = None
        if scheme.lower() == "apikey" and token.strip():
            principal = self._by_digest.get(hashlib.sha256(token.strip().encode()).hexdigest())
        if principal is None:
            raise ApiError(
                401,
                "unable to authenticate with provided credentials",
                headers={"WWW-Authenticate": 'ApiKey realm="ai-connector"'},
            )
        return principal


_XSRF_NAMES = frozenset({XSRF_HEADER.encode(), VERSION_HEADER.encode()})
ONE_AUTHORIZATION = "Request must contain exactly one Authorization header."


def caller_of(auth: ApiKeyAuth | None, scope: MutableMapping[str, Any]) -> Principal:
    """The caller of an ASGI request to a protected route, read in one pass over its headers: one
    `Authorization` header (400 for more: proxies and frameworks disagree on which value wins),
    a known key (401), and `kbn-xsrf` on a mutating call (400). `auth` None: 503, not ready."""
    authorization = None
    count = 0
    xsrf = False
    for key, value in scope["headers"]:
        key = key.lower()
        if key == b"authorization":
            authorization = value.decode("latin-1")
            count += 1
        elif key in _XSRF_NAMES:
            xsrf = True
    if count > 1:
        raise ApiError(400, ONE_AUTHORIZATION)
    if auth is None:
        raise ApiError(503, "the connector service is not ready")
    principal = auth.authenticate(authorization, scope["path"])
    if not xsrf:
        require_xsrf(scope["method"], ())
    return principal


def require_xsrf(method: str, headers: Container[str]) -> None:
    """Kibana refuses a mutating call without `kbn-xsrf` (any value) with this exact 400; its own
    clients' `kbn-version` header is accepted in its place (core's XSRF handler)."""
    if method.upper() in MUTATING_METHODS and XSRF_HEADER not in headers and VERSION_HEADER not in headers:
        raise ApiError(400, "Request must contain a kbn-xsrf header.")


def unauthorized_message(operation: str, connector_type_id: str = ".inference") -> str:
    """Kibana's authorization denial text (A4.3)."""
    return f'Unauthorized to {operation} a "{connector_type_id}" action'


def ensure_api_key_file(home: Path) -> tuple[str, Path, bool]:
    """The key stored under `home` (created, mode 0600, when absent): (key, path, created).

    Used by `serve` when no key is configured so a fresh host is never open to anyone: the key is
    written to a file only its owner can read, and only the file's path is ever printed.
    """
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = home / API_KEY_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    if key:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            path.chmod(0o600)  # tighten a file someone loosened
        return key, path, False
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    if os.name == "posix":
        path.chmod(0o600)
    return key, path, True
