"""`SyncRuntime`: the Runtime for host applications that are not async.

A private event loop runs in a daemon thread; each blocking method submits the matching coroutine
to it and waits. Interrupting the waiting thread (KeyboardInterrupt) cancels the call on the loop,
which closes its upstream request. `stream()` is a plain iterator; leaving it early (break, close,
garbage collection) closes the upstream stream.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ai_connector.runtime.loop import LoopThread
from ai_connector.runtime.pipeline import Runtime
from ai_connector.runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from ai_connector.context import CallContext
    from ai_connector.manager import ProviderRegistry
    from ai_connector.types import TestResult
    from ai_connector.urlpolicy import UrlPolicy
    from ai_connector.validation import ValidatedConnector

__all__ = ["SyncRuntime"]

T = TypeVar("T")


class SyncRuntime:
    """Blocking twin of `Runtime` (same methods and arguments); close it, or use it as a context manager."""

    def __init__(
        self, registry: ProviderRegistry, settings: RuntimeSettings | None = None, **runtime_options: Any
    ) -> None:
        self._loop = LoopThread("ai-connector-runtime", "SyncRuntime")

        async def make() -> Runtime:
            return Runtime(registry, settings, **runtime_options)

        self.runtime: Runtime = self._run(make())

    @property
    def url_policy(self) -> UrlPolicy:
        """The host's allowedHosts policy."""
        return self.runtime.url_policy

    @property
    def settings(self) -> RuntimeSettings:
        """The runtime's settings."""
        return self.runtime.settings

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro)

    def execute(
        self,
        connector: ValidatedConnector,
        sub_action: str,
        params: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> Any:
        """Blocking `Runtime.execute`; `unified_completion_stream` returns a blocking iterator."""
        result = self._run(self.runtime.execute(connector, sub_action, params, timeout=timeout))
        if hasattr(result, "__anext__"):
            return self._iterate(result)
        return result

    def stream(
        self, connector: ValidatedConnector, params: Mapping[str, Any], *, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Blocking `Runtime.stream`: chunk dicts as they arrive."""
        return self._iterate(self.runtime.stream(connector, params, timeout=timeout))

    def _iterate(self, chunks: Any) -> Iterator[dict[str, Any]]:
        return self._loop.iterate(chunks)

    def test(self, connector: ValidatedConnector, *, timeout: float | None = None) -> TestResult:
        """Blocking `Runtime.test`."""
        return self._run(self.runtime.test(connector, timeout=timeout))

    def run_hook(self, connector: ValidatedConnector, hook: str, *, is_update: bool = False) -> None:
        """Blocking `Runtime.run_hook`."""
        self._run(self.runtime.run_hook(connector, hook, is_update=is_update))

    def context(self, connector: ValidatedConnector, *, timeout: float | None = None) -> CallContext:
        """`Runtime.context` (its client must be used on this runtime's loop)."""
        return self.runtime.context(connector, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client and stop the loop thread; idempotent."""
        if self._loop.closed:
            return
        try:
            self._run(self.runtime.aclose())
        finally:
            self._loop.stop()

    aclose = close

    def __enter__(self) -> SyncRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
