"""The host's shared HTTP client: one pooled `httpx.AsyncClient` whose transport checks the URL
policy on every request, redirect hops included (Kibana checks allowedHosts on each redirect).

The bytes move through httpx's own transport or an aiohttp-backed one (`ai_connector.runtime.transport`,
faster at concurrency); `"auto"` picks the default. The client keeps no cookies: it is shared by every
connector, and one service's cookie must never reach another's request.

The redirect rule is one function (`next_hop`) that both ways out call: httpx's, through
`PolicyTransport.handle_async_request`, and the host's short path, `PolicyTransport.send_direct`.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Mapping
from typing import Any

import httpx

from ai_connector.context import DEFAULT_TIMEOUT
from ai_connector.errors import RedirectError
from ai_connector.urlpolicy import UrlPolicy

__all__ = ["HostClient", "PolicyTransport", "build_client"]


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_KEEPS_METHOD = frozenset({307, 308})  # 301/302/303 may turn the call into a GET without its body
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOPS = "ai_connector.redirect_hops"  # in the request's extensions, which httpx hands to every hop
MAX_REDIRECTS = 5


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)


def origin_text(url: httpx.URL) -> str:
    """`scheme://host[:port]` of `url`: what an error may say about a redirect target (no
    credentials, path, query or fragment)."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}" + ("" if url.port is None else f":{url.port}")


def next_hop(
    policy: UrlPolicy,
    method: str,
    url: httpx.URL,
    status: int,
    location: str,
    hops: list[str],
    max_redirects: int,
) -> httpx.URL:
    """The URL a `status` redirect to `location` leads to, if the host may follow it; raises
    otherwise (see PolicyTransport). `hops` holds the URLs visited so far and gains the target.
    The one redirect rule of both ways out: httpx's (PolicyTransport) and the short path."""
    try:
        target = httpx.URL(location)
        if target.is_relative_url:
            target = url.join(target)
    except (httpx.InvalidURL, ValueError):
        raise RedirectError(f"a {status} redirect with an invalid Location", status=status) from None
    if not target.host:
        raise RedirectError(f"a {status} redirect with an invalid Location", status=status)
    where = origin_text(target)
    policy.check(where + target.raw_path.decode("ascii").split("?", 1)[0])  # no query
    if _origin(target) != _origin(url):
        raise RedirectError(
            f"a {status} redirect to another origin ({where}) was refused: the host never "
            "follows a model call to another origin",
            status=status,
            code="cross_origin_redirect",
        )
    if status not in _KEEPS_METHOD and method not in _SAFE_METHODS:
        raise RedirectError(
            f"a {status} redirect of a {method} was refused: it would resend the call as "
            "a GET without its body",
            status=status,
            code="method_changing_redirect",
        )
    if not hops:
        hops.append(str(url.copy_with(fragment=None)))
    seen = str(target.copy_with(fragment=None))
    if seen in hops:
        raise RedirectError(f"a redirect loop on {where}", status=status, code="redirect_loop")
    if len(hops) > max_redirects:
        raise RedirectError(
            f"more than {max_redirects} redirects on {where}", status=status, code="too_many_redirects"
        )
    hops.append(seen)
    return target


class PolicyTransport(httpx.AsyncBaseTransport):
    """Wraps any async transport: refuses requests to hosts the policy does not allow, and applies
    the host's redirect policy to every 3xx answer before httpx (or a plugin) can follow it.

    Model calls carry credentials and prompts, so a redirect is followed only when it stays on the
    same origin (scheme, host and port) and keeps the method and body (307/308, or any redirect of
    a GET/HEAD), at most MAX_REDIRECTS hops and never back to a URL already visited. Anything else
    ends the call with a RedirectError (or HostNotAllowedError for a refused host) before a byte
    is sent to the target. Enforced here, the seam every request of the host's client goes
    through, so no plugin can forget it.

    `send_direct` is the host's short path (`CallContext.send_json`/`open_sse`) over an inner
    transport with a `send_raw` (`AiohttpTransport`): the same checks, with no httpx objects built.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, policy: UrlPolicy, *, max_redirects: int = MAX_REDIRECTS
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.max_redirects = max_redirects
        self._allowed: dict[tuple[bytes, bytes], bool] = {}  # the policy's answer per scheme and netloc
        self.send_raw: Any = getattr(inner, "send_raw", None)  # the inner transport's short path, if any

    def check(self, url: httpx.URL) -> None:
        """Raise HostNotAllowedError unless the policy allows `url` (its answer cached per origin)."""
        key = (url.raw_scheme, url.netloc)  # all the policy's answer depends on
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = self.policy.is_allowed(str(url))
            if len(self._allowed) >= 1024:
                self._allowed.clear()
            self._allowed[key] = allowed
        if not allowed:
            self.policy.check(str(url))  # raises, naming the URL

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the URL, hand the request to the wrapped transport, vet a redirect answer."""
        url = request.url
        self.check(url)
        hops = request.extensions.get(_HOPS)
        if hops and hops[0] == str(url.copy_with(fragment=None)):
            hops.clear()  # the same request sent afresh (a redirect back to it is refused as a loop)
        response = await self.inner.handle_async_request(request)
        if response.status_code in _REDIRECTS and "location" in response.headers:
            try:
                next_hop(
                    self.policy,
                    request.method,
                    url,
                    response.status_code,
                    response.headers["location"],
                    request.extensions.setdefault(_HOPS, []),
                    self.max_redirects,
                )
            except BaseException:
                await response.aclose()
                raise
        return response

    async def send_direct(
        self,
        method: str,
        url: httpx.URL,
        headers: Any,
        body: bytes | None,
        timeout: Mapping[str, float | None],
        follow_redirects: bool,
    ) -> Any:
        """Send through the inner transport's `send_raw`, checking every hop as
        `handle_async_request` does and following a redirect the host allows (same method, body
        and headers: only a same-origin, method-keeping one is). Answers its `RawResponse`."""
        hops: list[str] = []
        while True:
            self.check(url)
            raw = await self.send_raw(method, url, headers, body, timeout, decompress=True)
            location = raw.headers.get("location") if raw.status in _REDIRECTS else None
            if location is None:
                return raw
            try:
                target = next_hop(self.policy, method, url, raw.status, location, hops, self.max_redirects)
            except BaseException:
                await raw.body.aclose()
                raise
            if not follow_redirects:
                return raw
            await raw.body.aclose()
            url = target

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
    """The shared `httpx.AsyncClient`, with no cookie store (see the module docstring), and the
    host's short path when its transport has one (`short_path()`)."""

    _no_cookies = _NoCookies(
        http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    )

    def __init__(self, *, transport: PolicyTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._policy_transport = transport
        # what httpx sends on every request (Accept, Accept-Encoding, User-Agent...), as built
        self._wire_headers = {k.lower(): v for k, v in self.headers.items()}
        self._short = transport.send_raw is not None

    def short_path(self) -> Any:
        """`send_direct`, when requests may skip httpx's objects: the transport has a `send_raw`
        and no auth or event hook is set (those run on httpx's path only); else None."""
        if not self._short or self.auth is not None:
            return None
        hooks = self.event_hooks
        return None if hooks["request"] or hooks["response"] else self.send_direct

    async def send_direct(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        content_type: str | None,
        timeout: httpx.Timeout,
    ) -> Any:
        """Send with the headers httpx would send (the client's, then the call's, then the body's
        type unless the call gave one) through `PolicyTransport.send_direct`; its `RawResponse`."""
        wire = self._wire_headers.copy()
        if headers:
            for name, value in headers.items():
                wire[name.lower()] = value
        if content_type is not None:
            wire.setdefault("content-type", content_type)
        return await self._policy_transport.send_direct(
            method, url, wire, body, timeout.as_dict(), self.follow_redirects
        )

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
    max_connections_per_host: int | None = None,
    follow_redirects: bool = True,
) -> httpx.AsyncClient:
    """The shared client: pooled keep-alive connections behind the policy-checking transport.

    `transport` is a transport object, or a name: "httpx", "aiohttp", or "auto"/None for the
    default (`$AI_CONNECTOR_TRANSPORT` overrides what "auto" means). `max_connections_per_host`
    (None: no cap below the pool's size) keeps one host from holding the whole pool.
    """
    if transport is None or isinstance(transport, str):
        from ai_connector.runtime.transport import make_transport

        inner = make_transport(
            transport, max_connections=max_connections, max_connections_per_host=max_connections_per_host
        )
    else:
        inner = transport
    return HostClient(
        transport=PolicyTransport(inner, policy or UrlPolicy()),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=5,
    )
