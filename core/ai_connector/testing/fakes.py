"""One API for every provider's wire-exact fake: `Fake(server=None, *, api_key=...)`, `.url`, the
`.requests` it saw, `.fail(answer)` to queue a failure, `.stream(pieces)` to script a chat stream,
`.connector(task_type)` for a connector aimed at it; a context manager that owns its server when
given none. `python -m ai_connector.testing <provider id> --port N` serves one to try the host with.

A provider's `ai_connector_<id>.testing` module subclasses `ProviderFake` (its `FAKE`), keeping its
own wire details (routes, bodies, errors) in `install()`, `serve_chat()` and `connector_settings()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

from ai_connector.testing.fakeserver import FakeResponse, FakeServer, RecordedRequest

__all__ = ["DEFAULT_KEY", "ProviderFake", "fake_class", "provider_fake"]

DEFAULT_KEY = "canary-secret-0000"


class ProviderFake:
    """Base of a provider's fake: a FakeServer with the provider's routes on it."""

    provider_id: ClassVar[str]
    """The provider this fake imitates."""

    def __init__(
        self, server: FakeServer | None = None, *, api_key: str = DEFAULT_KEY, **options: Any
    ) -> None:
        self._owned = server is None
        self.server = FakeServer() if server is None else server
        self.api_key = api_key
        self.options = options
        if not self._owned:
            self.install()

    # -- what a provider's fake provides -------------------------------------------------------------
    def install(self) -> Self:
        """Add the provider's routes to the server (accepting `api_key`)."""
        return self

    def serve_chat(self, pieces: Sequence[str], *, prompt_tokens: int, completion_tokens: int) -> None:
        """Route the provider's chat call to stream `pieces`, finish reason stop, then that usage (and,
        for a provider with a non-streamed chat call, to answer the same text whole)."""
        raise NotImplementedError(f"{type(self).__name__} scripts no chat stream")

    def connector_settings(self, task_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(providerConfig, providerSecrets) of a connector aimed at this fake."""
        raise NotImplementedError

    # -- the shared API -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.server.url

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request the fake has seen, oldest first."""
        return self.server.requests

    def fail(
        self, answer: FakeResponse | int, *, times: int = 1, body: Mapping[str, Any] | None = None
    ) -> None:
        """Answer the next `times` requests with `answer` (or a JSON error of that status)."""
        if isinstance(answer, int):
            answer = FakeResponse.json(dict(body or {"error": {"message": "fake failure"}}), status=answer)
        self.server.queue(answer, times=times)

    def stream(
        self,
        pieces: Sequence[str],
        *,
        prompt_tokens: int = 5,
        completion_tokens: int = 7,
        abort_after: int | None = None,
    ) -> None:
        """Answer chat calls with a stream of `pieces`; `abort_after` cuts every stream after that
        many chunks (a stream that breaks off)."""
        self.serve_chat(pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        self.server.cut_streams_after = abort_after

    def connector(self, task_type: str = "chat_completion") -> tuple[dict[str, Any], dict[str, Any]]:
        """(providerConfig, providerSecrets) of a connector aimed at this fake, with its key."""
        return self.connector_settings(task_type)

    def reset(self) -> None:
        """Forget requests and queued answers (the routes stay)."""
        self.server.reset()

    def __enter__(self) -> Self:
        if self._owned:
            self.server.start()
            self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owned:
            self.server.stop()


def fake_class(
    provider_id: str,
    *,
    install: Callable[[FakeServer, str], Any],
    connector: Callable[..., tuple[dict[str, Any], dict[str, Any]]],
    serve_chat: Callable[..., None] | None = None,
) -> type[ProviderFake]:
    """A provider's `ProviderFake` from its testing module's functions: `install(server, api_key)`
    adds its routes, `connector(base_url, task_type, secret=...)` aims a connector at it,
    `serve_chat(server, pieces, prompt_tokens=..., completion_tokens=...)` scripts a chat stream."""

    class Fake(ProviderFake):
        def install(self) -> Fake:
            install(self.server, self.api_key)
            return self

        def serve_chat(self, pieces: Sequence[str], *, prompt_tokens: int, completion_tokens: int) -> None:
            if serve_chat is None:
                super().serve_chat(pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            else:
                serve_chat(
                    self.server, pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
                )

        def connector_settings(self, task_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
            return connector(self.url, task_type, secret=self.api_key)

    Fake.provider_id = provider_id
    Fake.__name__ = Fake.__qualname__ = f"{provider_id.title()}Fake"
    return Fake


def provider_fake(provider_id: str) -> type[ProviderFake]:
    """The `FAKE` of the provider's `<package>.testing` module (its plugin's package); LookupError
    (UnknownProviderError listing the ids there are, or naming the missing module) otherwise."""
    import importlib
    from importlib import metadata

    from ai_connector.manager import ENTRY_POINT_GROUP, default_registry

    registry = default_registry()
    registry.get(provider_id)
    plugin = registry.plugin_of(provider_id)
    eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == plugin]
    package = eps[0].module if eps else f"ai_connector_{provider_id}"
    try:
        fake: type[ProviderFake] = importlib.import_module(f"{package}.testing").FAKE
    except (ImportError, AttributeError):
        raise LookupError(f"provider {provider_id!r} ships no fake ({package}.testing.FAKE)") from None
    return fake
