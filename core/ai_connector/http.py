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


class PolicyTransport(httpx.AsyncBaseTransport):
    """Wraps any async transport: refuses requests to hosts the policy does not allow, and applies
    the host's redirect policy to every 3xx answer before httpx (or a plugin) can follow it.

    Model calls carry credentials and prompts, so a redirect is followed only when it stays on the
    same origin (scheme, host and port) and keeps the method and body (307/308, or any redirect of
    a GET/HEAD), at most MAX_REDIRECTS hops and never back to a URL already visited. Anything else
    ends the call with a RedirectError (or HostNotAllowedError for a refused host) before a byte
    is sent to the target. Enforced here, the seam every request of the host's client goes
    through, so no plugin can forget it.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, policy: UrlPolicy, *, max_redirects: int = MAX_REDIRECTS
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.max_redirects = max_redirects
        self._allowed: dict[tuple[bytes, bytes], bool] = {}  # the policy's answer per scheme and netloc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the URL, hand the request to the wrapped transport, vet a redirect answer."""
        url = request.url
        key = (url.raw_scheme, url.netloc)  # all the policy's answer depends on
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = self.policy.is_allowed(str(url))
            if len(self._allowed) >= 1024:
                self._allowed.clear()
            self._allowed[key] = allowed
        if not allowed:
            self.policy.check(str(url))  # raises, naming the URL
        hops = request.extensions.get(_HOPS)
        if hops and hops[0] == str(url.copy_with(fragment=None)):
            hops.clear()  # the same request sent afresh (a redirect back to it is refused as a loop)
        response = await self.inner.handle_async_request(request)
        if response.status_code in _REDIRECTS and "location" in response.headers:
            try:
                self._vet_redirect(request, response)
            except BaseException:
                await response.aclose()
                raise
        return response

    def _vet_redirect(self, request: httpx.Request, response: httpx.Response) -> None:
        """Raise unless the host may follow this redirect (see the class docstring)."""
        status = response.status_code
        try:
            target = httpx.URL(response.headers["location"])
            if target.is_relative_url:
                target = request.url.join(target)
        except (httpx.InvalidURL, ValueError):
            raise RedirectError(f"a {status} redirect with an invalid Location", status=status) from None
        if not target.host:
            raise RedirectError(f"a {status} redirect with an invalid Location", status=status)
        where = origin_text(target)
        self.policy.check(where + target.raw_path.decode("ascii").split("?", 1)[0])  # no query
        if _origin(target) != _origin(request.url):
            raise RedirectError(
                f"a {status} redirect to another origin ({where}) was refused: the host never "
                "follows a model call to another origin",
                status=status,
                code="cross_origin_redirect",
            )
        if status not in _KEEPS_METHOD and request.method not in _SAFE_METHODS:
            raise RedirectError(
                f"a {status} redirect of a {request.method} was refused: it would resend the call as "
                "a GET without its body",
                status=status,
                code="method_changing_redirect",
            )
        hops: list[str] = request.extensions.setdefault(_HOPS, [])
        if not hops:
            hops.append(str(request.url.copy_with(fragment=None)))
        seen = str(target.copy_with(fragment=None))
        if seen in hops:
            raise RedirectError(f"a redirect loop on {where}", status=status, code="redirect_loop")
        if len(hops) > self.max_redirects:
            raise RedirectError(
                f"more than {self.max_redirects} redirects on {where}",
                status=status,
                code="too_many_redirects",
            )
        hops.append(seen)

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
    """The shared `httpx.AsyncClient`, with no cookie store (see the module docstring)."""

    _no_cookies = _NoCookies(
        http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
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
