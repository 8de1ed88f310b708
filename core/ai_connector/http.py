"""The host's shared HTTP client: one pooled `httpx.AsyncClient` whose transport checks the URL
policy on every request, redirect hops included (Kibana checks allowedHosts on each redirect).

The bytes move through httpx's own transport or an aiohttp-backed one (`ai_connector.runtime.transport`,
faster at concurrency); `"auto"` picks the default. The client keeps no cookies: it is shared by every
connector, and one service's cookie must never reach another's request.
"""

from __future__ import annotations

import http.cookiejar
from typing import Any

import httpx

from ai_connector.context import DEFAULT_TIMEOUT
from ai_connector.urlpolicy import UrlPolicy

__all__ = ["HostClient", "PolicyTransport", "build_client"]


class PolicyTransport(httpx.AsyncBaseTransport):
    """Wraps any async transport and refuses requests to hosts the policy does not allow."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: UrlPolicy) -> None:
        self.inner = inner
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the URL, then hand the request to the wrapped transport."""
        self.policy.check(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing: extracting from a response is a no-op (httpx would
    otherwise build urllib request/response wrappers for every answer) and it is always empty."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep no cookie from `response`."""

    def set_cookie_header(self, request: httpx.Request) -> None:
        """Add no cookie to `request`."""

    def __bool__(self) -> bool:
        return False


class HostClient(httpx.AsyncClient):
    """The shared `httpx.AsyncClient`, with no cookie store (see the module docstring).

    `CallContext` sends through `direct_transport()` rather than `send()` (see `ai_connector.context`).
    """

    _no_cookies = _NoCookies(
        http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    )

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        # Only an explicit transport with no mounts or proxy is the one every URL goes to.
        routed = transport is None or kwargs.get("mounts") or kwargs.get("proxy")
        self.host_transport = None if routed else transport

    def direct_transport(self) -> httpx.AsyncBaseTransport | None:
        """The transport a request may be handed to without `send()`: the one the client was built
        with, while nothing `send()` would add applies (no auth, event hooks or default query
        params); None otherwise."""
        hooks = self.event_hooks
        if self.auth is not None or self.params or hooks["request"] or hooks["response"]:
            return None
        return self.host_transport

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty: the host keeps no cookies."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, value: object) -> None:
        raise AttributeError("the host's shared client keeps no cookies")


def build_client(
    policy: UrlPolicy | None = None,
    *,
    transport: httpx.AsyncBaseTransport | str | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_connections: int = 100,
    follow_redirects: bool = True,
) -> httpx.AsyncClient:
    """The shared client: pooled keep-alive connections behind the policy-checking transport.

    `transport` is a transport object, or a name: "httpx", "aiohttp", or "auto"/None for the
    default (`$AI_CONNECTOR_TRANSPORT` overrides what "auto" means).
    """
    if transport is None or isinstance(transport, str):
        from ai_connector.runtime.transport import make_transport

        inner = make_transport(transport, max_connections=max_connections)
    else:
        inner = transport
    return HostClient(
        transport=PolicyTransport(inner, policy or UrlPolicy()),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=5,
    )
