"""`SyncConnectorService`: the ConnectorService for host applications that are not async.

The same methods, blocking: the async service runs on a private event loop in a daemon thread
(`runtime.loop.LoopThread`, shared with `SyncRuntime`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ai_connector.host.connectors import ConnectorService
from ai_connector.runtime.loop import LoopThread

if TYPE_CHECKING:
    from ai_connector.host.license import LicenseState
    from ai_connector.host.settings import HostSettings
    from ai_connector.manager import ProviderRegistry
    from ai_connector.runtime import Runtime
    from ai_connector.types import TestResult

__all__ = ["SyncConnectorService"]

T = TypeVar("T")


class SyncConnectorService:
    """The same methods as ConnectorService, blocking: an event loop runs in a background thread.

    `with SyncConnectorService.open() as service: service.create({...})`.
    """

    def __init__(self, service: ConnectorService, loop: LoopThread) -> None:
        self._service = service
        self._loop = loop

    @classmethod
    def open(
        cls,
        settings: HostSettings | None = None,
        *,
        registry: ProviderRegistry | None = None,
        runtime: Runtime | None = None,
        license_state: LicenseState | None = None,
    ) -> SyncConnectorService:
        """Open a ConnectorService on a background loop (`runtime`, if given, must be the async one)."""
        loop = LoopThread("ai-connector-service", "SyncConnectorService")
        try:
            service = loop.run(
                ConnectorService.open(
                    settings, registry=registry, runtime=runtime, license_state=license_state
                )
            )
        except BaseException:
            loop.stop()
            raise
        return cls(service, loop)

    @property
    def service(self) -> ConnectorService:
        """The async service underneath."""
        return self._service

    @property
    def settings(self) -> HostSettings:
        """The host's settings."""
        return self._service.settings

    @property
    def registry(self) -> ProviderRegistry:
        """The provider registry."""
        return self._service.registry

    @property
    def runtime(self) -> Runtime:
        """The (async) runtime the service calls."""
        return self._service.runtime

    def _call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        return self._loop.run(fn(*args, **kwargs))

    def create(
        self, body: Mapping[str, Any], *, connector_id: str | None = None, user: str | None = None
    ) -> dict[str, Any]:
        """See ConnectorService.create."""
        return self._call(self._service.create, body, connector_id=connector_id, user=user)

    def get(self, connector_id: str, *, user: str | None = None) -> dict[str, Any]:
        """See ConnectorService.get."""
        return self._call(self._service.get, connector_id, user=user)

    def list_all(self, *, user: str | None = None) -> list[dict[str, Any]]:
        """See ConnectorService.list_all."""
        return self._call(self._service.list_all, user=user)

    def list_page(
        self, *, after: str | None = None, limit: int = 1000, user: str | None = None
    ) -> list[dict[str, Any]]:
        """See ConnectorService.list_page."""
        return self._call(self._service.list_page, after=after, limit=limit, user=user)

    def details(self, connector_id: str) -> dict[str, Any]:
        """See ConnectorService.details."""
        return self._call(self._service.details, connector_id)

    def update(
        self,
        connector_id: str,
        body: Mapping[str, Any],
        *,
        user: str | None = None,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """See ConnectorService.update."""
        return self._call(
            self._service.update, connector_id, body, user=user, expected_version=expected_version
        )

    def delete(
        self, connector_id: str, *, user: str | None = None, expected_version: int | None = None
    ) -> None:
        """See ConnectorService.delete."""
        self._call(self._service.delete, connector_id, user=user, expected_version=expected_version)

    def test(
        self,
        connector_id: str | None = None,
        *,
        body: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> TestResult:
        """See ConnectorService.test."""
        return self._call(self._service.test, connector_id, body=body, user=user)

    def execute(
        self,
        connector_id: str,
        sub_action: str | None,
        params: Mapping[str, Any] | None,
        *,
        user: str | None = None,
    ) -> dict[str, Any]:
        """See ConnectorService.execute."""
        return self._call(self._service.execute, connector_id, sub_action, params, user=user)

    def stream(
        self, connector_id: str, params: Mapping[str, Any], *, user: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """See ConnectorService.stream; a blocking iterator (close it to cancel the upstream call)."""
        return self._loop.iterate(self._service.stream(connector_id, params, user=user))

    def rotate_key(self, *, batch_size: int = 10_000) -> dict[str, int]:
        """See ConnectorService.rotate_key."""
        return self._call(self._service.rotate_key, batch_size=batch_size)

    def connector_types(self) -> list[dict[str, Any]]:
        """See ConnectorService.connector_types."""
        return self._service.connector_types()

    def close(self) -> None:
        """Close the service and stop its loop."""
        try:
            self._loop.run(self._service.aclose())
        finally:
            self._loop.stop()

    def __enter__(self) -> SyncConnectorService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Last in the class, so no annotation above means this method: `list[...]` stays the builtin.
    list = list_all  # the name tests and scripts call
