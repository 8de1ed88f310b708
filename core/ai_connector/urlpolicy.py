"""The host's allowedHosts policy (Kibana `xpack.actions.allowedHosts`): exact hostname match,
`*` allows any; a URL that cannot be parsed or has no hostname is refused (fails closed)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from ai_connector.errors import HostNotAllowedError

__all__ = ["UrlPolicy"]

_HOSTNAME = re.compile(r"^(?:[a-z0-9_\-.]+|\[?[0-9a-f:.]+\]?)$")


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
        try:
            parts = urlsplit(str(url))
            host = parts.hostname
        except ValueError:
            return False
        if not host or parts.scheme not in ("http", "https"):
            return False
        return self._any or host.lower().strip("[]") in self._hosts

    def check(self, url: str) -> None:
        """Raise HostNotAllowedError unless `url` is allowed."""
        if not self.is_allowed(url):
            raise HostNotAllowedError(str(url))

    def __repr__(self) -> str:
        return f"UrlPolicy({list(self.allowed_hosts)!r})"
