"""The host's shared HTTP client: one pooled `httpx.AsyncClient` whose transport checks the URL
policy on every request, redirect hops included (Kibana checks allowedHosts on each redirect).

The bytes move through httpx's own transport or an aiohttp-backed one (`ai_connector.runtime.transport`,
faster at concurrency); `"auto"` picks the default. The client keeps no cookies: it is shared by every
connector, and one service's cookie must never reach another's request.
"""

from __future__ import annotations

import http.cookiejar

import httpx

from ai_connector.context import DEFAULT_TIMEOUT
from ai_connector.urlpolicy import UrlPolicy

__all__ = ["PolicyTransport", "build_client"]


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


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that accepts and returns no cookie (no domain is allowed)."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


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
    return httpx.AsyncClient(
        transport=PolicyTransport(inner, policy or UrlPolicy()),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=5,
        cookies=_no_cookies(),
    )
