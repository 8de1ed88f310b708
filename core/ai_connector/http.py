"""The host's shared HTTP client: one pooled `httpx.AsyncClient` whose transport checks the URL
policy on every request, redirect hops included (Kibana checks allowedHosts on each redirect)."""

from __future__ import annotations

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


def build_client(
    policy: UrlPolicy | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_connections: int = 100,
    follow_redirects: bool = True,
) -> httpx.AsyncClient:
    """The shared client: pooled keep-alive connections behind the policy-checking transport."""
    inner = transport or httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    )
    return httpx.AsyncClient(
        transport=PolicyTransport(inner, policy or UrlPolicy()),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=5,
    )
