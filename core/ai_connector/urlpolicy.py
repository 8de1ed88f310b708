"""The host's allowedHosts policy (Kibana `xpack.actions.allowedHosts`): exact hostname match,
`*` allows any; a URL that cannot be parsed or has no hostname is refused (fails closed).

Before the hostname is compared, what no request URL needs and what lets two URL parsers disagree
on the host is refused: control characters and spaces (CR/LF would split a request line) and
schemes other than http(s); at save, `url_problem` also refuses user names and passwords
(`allowed@evil` tricks; credentials belong in the secrets). The hostname compared is the one
httpx, the host's client, will connect to, and it must equal the standard library's reading of
the same URL, so no parser differential slips a host past the list. Numeric and other spellings
of an address (`127.1`, `0x7f.1`, `2130706433`, `[::ffff:127.0.0.1]`, a trailing dot) are
different names: allowed only when listed as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

import httpx

from ai_connector.errors import HostNotAllowedError

__all__ = ["UrlPolicy", "url_problem"]

_HOSTNAME = re.compile(r"^(?:[a-z0-9_\-.]+|\[?[0-9a-f:.]+\]?)$")
# C0 controls, space, DEL and C1 controls: never part of a URL a connector calls.
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
# URLs up to this length have their verdicts memoised (bounds the caches' memory).
_CACHED_URL_LENGTH = 2048


def _host_of(url: str) -> str | None:
    """The host httpx will connect to, when the standard library reads the same host; else None."""
    try:
        parts = urlsplit(url)
        theirs = (parts.hostname or "").strip("[]")
        ours = httpx.URL(url).host
    except (ValueError, httpx.InvalidURL):
        return None
    return ours if ours and ours == theirs else None


def url_problem(url: str) -> str | None:
    """Why `url` is not a URL a connector may save (a phrase to follow the field's label), or None.

    Stricter than what `UrlPolicy` lets a request reach: user info is refused here (credentials
    belong in the secrets), while a request's host check only needs both parsers to agree on it.
    """
    problem = _verdict(url)[0]
    if problem is None and "@" in urlsplit(url).netloc:
        return "must not contain a user name or password (credentials belong in the secrets)"
    return problem


def _verdict(url: str) -> tuple[str | None, str | None]:
    """(why a request may not go to `url`, or None; the host it goes to). Memoised for URLs of
    ordinary length: a pure function of the string, whose two URL parsers cost ~60 µs, for the
    same few URLs a connector calls over and over; the length bound keeps the cache small."""
    return _cached_verdict(url) if len(url) <= _CACHED_URL_LENGTH else _judge(url)


def _judge(url: str) -> tuple[str | None, str | None]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "must be a valid http(s) URL", None
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http(s) URL", None
    if _CONTROL.search(url):
        return "must not contain spaces or control characters (such as CR, LF or tab)", None
    host = _host_of(url)
    if host is None:
        return "must be a valid http(s) URL with a host name", None
    return None, host


_cached_verdict = lru_cache(maxsize=1024)(_judge)


class UrlPolicy:
    """Which hosts connectors may reach; checked at save, before each request and on each redirect."""

    __slots__ = ("_any", "_hosts")

    def __init__(self, allowed_hosts: Iterable[str] = ("*",)) -> None:
        hosts = [h.strip().lower().strip("[]") for h in allowed_hosts if h and h.strip()]
        for h in hosts:
            if h != "*" and not _HOSTNAME.match(h):
                raise ValueError(f"allowed_hosts entry {h!r} must be a hostname or '*'")
        self._any = "*" in hosts
        self._hosts = frozenset(hosts)

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """The configured entries, sorted."""
        return tuple(sorted(self._hosts))

    def is_allowed(self, url: str) -> bool:
        """True when `url` parses, has a hostname and that hostname is allowed."""
        problem, host = _verdict(str(url))
        return problem is None and (self._any or host in self._hosts)

    def check(self, url: str) -> None:
        """Raise HostNotAllowedError unless `url` is allowed."""
        if not self.is_allowed(url):
            raise HostNotAllowedError(str(url))

    def __repr__(self) -> str:
        return f"UrlPolicy({list(self.allowed_hosts)!r})"
