"""Service-account credentials: the key JSON read, a signed JWT exchanged for an OAuth2 access token,
and tokens cached until shortly before they expire.

The exchange is google-auth's (`google/oauth2/service_account.py`, `_client.jwt_grant`): an RS256 JWT
with `iss`=client_email, `aud`=Google's token endpoint and the cloud-platform scope, POSTed as a
jwt-bearer grant to the key file's `token_uri`. google-auth only signs here; the POST goes through the
host's client (`ctx.request`) so its URL policy, timeouts and size cap apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
    InvalidResponseError,
    ProviderError,
    error_for_status,
)

__all__ = ["SECRET_FIELD", "ServiceAccount", "TokenCache", "load_service_account"]

PROVIDER_ID = "googlevertexai"

SECRET_FIELD = "service_account_json"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600  # seconds; Google's maximum for a JWT-bearer assertion
_UNPARSED = object()


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The parts of a service-account key the token exchange needs (the key never shows in a repr)."""

    client_email: str
    private_key: str = field(repr=False)
    private_key_id: str | None = field(repr=False)
    token_uri: str

    @property
    def cache_key(self) -> tuple[str, str | None, str, str]:
        """Tokens are cached per client, key id, token endpoint and key: a JSON whose key changed under
        the same id must not reuse a token the old key earned."""
        digest = hashlib.sha256(self.private_key.encode()).hexdigest()
        return (self.client_email, self.private_key_id, self.token_uri, digest)


def _credentials_error(problem: str) -> AuthenticationError:
    # Names the field, never its content: the whole JSON is the secret.
    return AuthenticationError(
        f"{PROVIDER_ID}: the Credentials JSON ({SECRET_FIELD}) {problem}",
        code="invalid_service_account_json",
    )


def load_service_account(secrets: Mapping[str, str]) -> ServiceAccount:
    """The service account in the connector's `service_account_json` secret.

    A missing, malformed or incomplete key is an AuthenticationError (a credentials failure for *Save &
    test*) that names the field and never echoes its content.
    """
    raw = secrets.get(SECRET_FIELD)
    if not raw:
        raise _credentials_error("is missing")
    info: Any = _UNPARSED
    # Raised below, outside any except block, so no traceback carries the document.
    with contextlib.suppress(ValueError):
        info = json.loads(raw)
    if info is _UNPARSED:
        raise _credentials_error("is not valid JSON")
    if not isinstance(info, Mapping):
        raise _credentials_error("is not a JSON object")
    if info.get("type", "service_account") != "service_account":
        raise _credentials_error('is not a service account key (its "type" is not service_account)')
    missing = [k for k in ("client_email", "private_key") if not isinstance(info.get(k), str) or not info[k]]
    if missing:
        raise _credentials_error("has no " + " and no ".join(missing))
    token_uri = info.get("token_uri") or GOOGLE_TOKEN_URI
    if not isinstance(token_uri, str) or not token_uri.startswith(("https://", "http://")):
        raise _credentials_error("has a token_uri that is not an http(s) URL")
    key_id = info.get("private_key_id")
    return ServiceAccount(
        client_email=info["client_email"],
        private_key=info["private_key"],
        private_key_id=key_id if isinstance(key_id, str) and key_id else None,
        token_uri=token_uri,
    )


def _signed_assertion(account: ServiceAccount, now: int) -> str:
    from google.auth import crypt, jwt  # heavy: loaded on the first token exchange only

    payload = {
        "iss": account.client_email,
        "aud": GOOGLE_TOKEN_URI,
        "scope": SCOPE,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
    }
    failed = False
    try:
        signer = crypt.RSASigner.from_string(account.private_key, account.private_key_id)
        token = jwt.encode(signer, payload)
    except Exception:  # a user-supplied key can fail to load or sign in many ways
        failed = True
    if failed:
        raise _credentials_error("has a private_key that is not a usable RSA key in PEM format")
    return token.decode("ascii") if isinstance(token, bytes) else token


def _token_error(status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
    """The typed error for a refused token exchange: OAuth's `{"error", "error_description"}`."""
    error: str | None = None
    description: str | None = None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, Mapping):
        if isinstance(data.get("error"), str):
            error = data["error"]
        if isinstance(data.get("error_description"), str):
            description = data["error_description"]
    message = "the token endpoint refused the service account"
    if error or description:
        message += ": " + ": ".join(p for p in (error, description) if p)
    # 4xx here means the key, its account or its token_uri is wrong; 429 and 5xx keep their kinds.
    cls = AuthenticationError if 400 <= status < 500 and status != 429 else None
    return error_for_status(status, message, headers=headers, code=error, cls=cls)


class TokenCache:
    """Access tokens per service account, reused until `refresh_margin` seconds before they expire.

    One exchange at a time per account (an asyncio.Lock per account and event loop), so a burst of
    calls with a cold cache costs one token request. Tokens are never logged.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, refresh_margin: float = 300.0) -> None:
        self.clock = clock
        self.refresh_margin = refresh_margin
        self._tokens: dict[tuple[str, str | None, str, str], tuple[str, float]] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def _lock(self, key: Any) -> asyncio.Lock:
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock

    def _fresh(self, key: Any) -> str | None:
        entry = self._tokens.get(key)
        if entry is not None and self.clock() < entry[1]:
            return entry[0]
        return None

    async def token(self, account: ServiceAccount, ctx: CallContext) -> str:
        """A valid access token for `account`: the cached one, or a new one from its token_uri."""
        key = account.cache_key
        token = self._fresh(key)
        if token is not None:
            return token
        async with self._lock(key):
            token = self._fresh(key)  # another task may have refreshed it while we waited
            if token is not None:
                return token
            token, lifetime = await self._exchange(account, ctx)
            # Refresh well before expiry; a short-lived token is reused for half its life at most.
            margin = min(self.refresh_margin, lifetime / 2)
            self._tokens[key] = (token, self.clock() + lifetime - margin)
            return token

    def clear(self) -> None:
        """Drop every cached token."""
        self._tokens.clear()

    def forget(self, account: ServiceAccount) -> None:
        """Drop the cached token (the service refused it), so the next call exchanges again."""
        self._tokens.pop(account.cache_key, None)

    async def _exchange(self, account: ServiceAccount, ctx: CallContext) -> tuple[str, float]:
        assertion = _signed_assertion(account, int(time.time()))
        resp = await ctx.request(
            "POST",
            account.token_uri,
            data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion},
            headers={"accept": "application/json"},
        )
        if resp.status_code >= 400:
            raise _token_error(resp.status_code, resp.content, resp.headers)
        try:
            data = resp.json()
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            raise InvalidResponseError(
                f"{PROVIDER_ID}: the token endpoint's answer has no access_token",
                status=resp.status_code,
            )
        try:
            lifetime = float(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        if not 0 < lifetime < 86400 * 366:
            lifetime = 3600.0
        ctx.logger.debug("%s: got an access token from the token endpoint, valid %ds", PROVIDER_ID, lifetime)
        return token, lifetime
