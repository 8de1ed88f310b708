"""Running a saved connector from its ready-to-run state: how fresh an execute is.

Two services on one SQLite file stand for two hosts sharing a store. This host's own changes are
seen by the next execute; another host's within `revalidate_interval`; the gates on every call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from host_helpers import body
from sqlalchemy import text

from ai_connector.host.errors import ForbiddenError, NotFoundError
from ai_connector.host.license import LicenseState
from ai_connector.host.service import ConnectorService

HELLO = {"body": {"messages": [{"role": "user", "content": "Hello world"}]}}


def put_body(url: str, **kw: Any) -> dict[str, Any]:
    b = body(url, **kw)
    del b["connector_type_id"]
    return b


async def host(service: ConnectorService, **changes: Any) -> ConnectorService:
    """Another host on the same store (same data directory, key and registry)."""
    return await ConnectorService.open(service.settings.replace(**changes), registry=service.registry)


def last_model(fake_server: Any) -> str:
    return fake_server.requests[-1].json()["model"]


class ReadCounter:
    """Counts the store reads an execute makes (each one a worker-thread hop)."""

    def __init__(self, service: ConnectorService) -> None:
        self.calls = 0
        self._require = service.store.require
        service.store.require = self  # type: ignore[method-assign]

    def __call__(self, connector_id: str) -> Any:
        self.calls += 1
        return self._require(connector_id)


async def run(service: ConnectorService, cid: str = "c1") -> dict[str, Any]:
    out = await service.execute(cid, "unified_completion", HELLO)
    assert out["status"] == "ok", out
    return out


# ---------------------------------------------------------------------------------------------
# One host


async def test_a_warm_execute_reads_nothing_from_the_store(service, fake_server):
    host_a = await host(service, revalidate_interval=60.0)
    try:
        await host_a.create(body(fake_server.url), connector_id="c1")
        reads = ReadCounter(host_a)
        for _ in range(5):
            await run(host_a)
        assert reads.calls == 1  # the first execute builds the state; the others use it
        stream = [c async for c in host_a.stream("c1", HELLO)]
        assert stream[-1]["usage"]["total_tokens"] == 5
        assert reads.calls == 1
    finally:
        await host_a.aclose()


async def test_concurrent_executes_share_one_read(service, fake_server):
    host_a = await host(service, revalidate_interval=60.0)
    try:
        await host_a.create(body(fake_server.url), connector_id="c1")
        reads = ReadCounter(host_a)
        await asyncio.gather(*(run(host_a) for _ in range(16)))
        assert reads.calls == 1
    finally:
        await host_a.aclose()


async def test_with_0_every_execute_reads_the_row(service, fake_server):
    host_a = await host(service, revalidate_interval=0.0)
    try:
        await host_a.create(body(fake_server.url), connector_id="c1")
        reads = ReadCounter(host_a)
        await asyncio.gather(*(run(host_a) for _ in range(4)))
        await run(host_a)
        assert reads.calls == 5
    finally:
        await host_a.aclose()


async def test_this_hosts_own_update_and_delete_are_seen_by_the_next_execute(service, fake_server):
    host_a = await host(service, revalidate_interval=3600.0)
    try:
        await host_a.create(body(fake_server.url), connector_id="c1")
        await run(host_a)
        assert last_model(fake_server) == "fake-model"
        await host_a.update("c1", put_body(fake_server.url, model_id="m2"))
        await run(host_a)
        assert last_model(fake_server) == "m2"
        await host_a.rotate_key()
        await run(host_a)
        await host_a.delete("c1")
        with pytest.raises(NotFoundError):
            await host_a.execute("c1", "unified_completion", HELLO)
    finally:
        await host_a.aclose()


async def test_the_gates_are_checked_on_every_call_even_when_warm(service, fake_server):
    host_a = await host(service, revalidate_interval=3600.0)
    try:
        await host_a.create(body(fake_server.url), connector_id="c1")
        await run(host_a)
        host_a.license_state = LicenseState("basic")
        with pytest.raises(ForbiddenError, match="license does not support it"):
            await host_a.execute("c1", "unified_completion", HELLO)
        with pytest.raises(ForbiddenError):
            await anext(host_a.stream("c1", HELLO))
        host_a.license_state = LicenseState("enterprise")
        await run(host_a)
    finally:
        await host_a.aclose()


async def test_a_failing_store_read_fails_the_execute_and_keeps_nothing_stale(service, fake_server):
    host_a = await host(service, revalidate_interval=0.0)
    try:
        await host_a.create(body(fake_server.url), connector_id="c1")
        await run(host_a)

        def broken(connector_id: str) -> Any:
            raise OSError("the database is gone")

        working, host_a.store.require = host_a.store.require, broken  # type: ignore[method-assign]
        with pytest.raises(OSError, match="the database is gone"):
            await host_a.execute("c1", "unified_completion", HELLO)
        assert "c1" not in host_a._ready
        host_a.store.require = working  # type: ignore[method-assign]
        await run(host_a)
    finally:
        await host_a.aclose()


# ---------------------------------------------------------------------------------------------
# Two hosts on one store


@pytest.mark.parametrize("interval", [0.0, 0.3])
async def test_another_hosts_update_is_seen_within_the_bound(service, fake_server, interval):
    writer = await host(service)
    reader = await host(service, revalidate_interval=interval)
    try:
        await writer.create(body(fake_server.url), connector_id="c1")
        await run(reader)
        assert last_model(fake_server) == "fake-model"
        await writer.update("c1", put_body(fake_server.url, model_id="m2"))
        await asyncio.sleep(interval + 0.05)
        await run(reader)
        assert last_model(fake_server) == "m2"
    finally:
        await writer.aclose()
        await reader.aclose()


@pytest.mark.parametrize("interval", [0.0, 0.3])
async def test_another_hosts_delete_makes_execute_fail_within_the_bound(service, fake_server, interval):
    writer = await host(service)
    reader = await host(service, revalidate_interval=interval)
    try:
        await writer.create(body(fake_server.url), connector_id="c1")
        await run(reader)
        await writer.delete("c1")
        await asyncio.sleep(interval + 0.05)
        with pytest.raises(NotFoundError):
            await reader.execute("c1", "unified_completion", HELLO)
        with pytest.raises(NotFoundError):
            await anext(reader.stream("c1", HELLO))
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_within_the_bound_another_hosts_change_may_not_be_seen_yet(service, fake_server):
    # The price of not reading the row on every execute, and why the bound is a setting.
    writer = await host(service)
    reader = await host(service, revalidate_interval=3600.0)
    try:
        await writer.create(body(fake_server.url), connector_id="c1")
        await run(reader)
        await writer.update("c1", put_body(fake_server.url, model_id="m2"))
        await run(reader)
        assert last_model(fake_server) == "fake-model"
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_another_hosts_key_rotation_changes_nothing_a_reader_must_see(service, fake_server):
    writer = await host(service)
    reader = await host(service, revalidate_interval=0.0)
    try:
        await writer.create(body(fake_server.url), connector_id="c1")
        await run(reader)
        await writer.rotate_key()  # same version, new ciphertext: rebuilt, same secrets
        await run(reader)
        assert fake_server.requests[-1].headers["authorization"].startswith("Bearer sk-canary")
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_a_row_edited_behind_the_hosts_back_is_caught_at_the_next_check(service, fake_server):
    # Editing the stored config without the API (and without a new version) breaks the secrets'
    # binding: the next check rebuilds the state and refuses to run it.
    reader = await host(service, revalidate_interval=0.0)
    try:
        await reader.create(body(fake_server.url), connector_id="c1")
        await run(reader)
        with reader.store.engine.begin() as conn:
            conn.execute(
                text("UPDATE connectors SET config = replace(config, 'fake-model', 'evil') WHERE id = 'c1'")
            )
        sent = len(fake_server.requests)
        out = await reader.execute("c1", "unified_completion", HELLO)
        assert out["status"] == "error" and "integrity check failed" in out["service_message"]
        assert len(fake_server.requests) == sent
    finally:
        await reader.aclose()
