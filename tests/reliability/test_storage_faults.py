"""Storage faults: a full volume and a read-only store give typed refusals on writes (507 / 503,
with a message saying what to do) while reads are still served; a data directory that is
read-only at start-up is a start-up error naming it.

The faults are real where the machine allows (a small tmpfs mounted as root, filled; remounted
read-only between two starts) and injected at the store's seam (the driver's SQLITE_FULL /
SQLITE_READONLY) always; a store turning read-only under a running host is injected only, since a
volume with the database open for writing cannot be remounted read-only.
Two hosts on one SQLite file or one PostgreSQL, and SIGKILL during writes, are covered by
tests/host/test_multiprocess.py (not repeated here).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from ai_connector.host.errors import SettingsError
from ai_connector.host.service import ConnectorService
from connector_documents import builtin_registry, connector_document
from served_host import ALL_KEY, InProcessHosts, host_settings

HEADERS = {"Authorization": f"ApiKey {ALL_KEY}", "kbn-xsrf": "true"}
BIG = "m" * 300_000  # a model id big enough that its row needs new pages on disk


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of our own (skipped where this process may not mount)."""
    where = tmp_path / "volume"
    where.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(where)):
        pytest.skip("mounting a tmpfs is not permitted here (the injected faults below still run)")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(volume: Path) -> Path:
    """Write until the volume reports ENOSPC; returns the filler file (delete it to free the space)."""
    filler = volume / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):  # down to the last byte
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


@pytest.fixture
async def open_api() -> AsyncIterator[Callable[..., Any]]:
    hosts = InProcessHosts()
    yield hosts.open
    await hosts.aclose()


def document(model: str = "gpt-4o") -> dict[str, Any]:
    doc = connector_document(builtin_registry().get("openai"), url="http://127.0.0.1:9/v1")
    doc["config"]["providerConfig"]["model_id"] = model
    return doc


async def assert_reads_served(api: httpx.AsyncClient, cid: str) -> None:
    got = await api.get(f"/api/actions/connector/{cid}", headers=HEADERS)
    assert got.status_code == 200, got.text
    listed = await api.get("/api/actions/connectors", headers=HEADERS)
    assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [cid]


async def assert_writes_refused(api: httpx.AsyncClient, cid: str, status: int, words: str) -> None:
    refusals = [
        await api.post("/api/actions/connector", headers=HEADERS, json=document(BIG)),
        await api.put(
            f"/api/actions/connector/{cid}",
            headers=HEADERS,
            json={k: v for k, v in document(BIG).items() if k != "connector_type_id"},
        ),
        await api.delete(f"/api/actions/connector/{cid}", headers=HEADERS),
    ]
    for r in refusals:
        assert r.status_code == status, r.text
        body = r.json()
        assert body["statusCode"] == status and words in body["message"], body
        assert "the change was not made" in body["message"]


@pytest.mark.parametrize("audit_on_volume", [True, False], ids=["audit-and-db-full", "db-full"])
async def test_a_full_volume_refuses_writes_with_507_and_serves_reads(
    volume: Path, tmp_path: Path, open_api: Any, audit_on_volume: bool
) -> None:
    audit = {} if audit_on_volume else {"AI_CONNECTOR_AUDIT_LOG": str(tmp_path / "audit.log")}
    api, _ = await open_api(host_settings(volume / "home", **audit))
    created = await api.post("/api/actions/connector", headers=HEADERS, json=document())
    assert created.status_code == 200, created.text
    cid = created.json()["id"]
    filler = fill(volume)
    await assert_writes_refused(api, cid, 507, "no space left")
    await assert_reads_served(api, cid)
    filler.unlink()  # space again: writes work again, no restart
    again = await api.post("/api/actions/connector", headers=HEADERS, json=document(BIG))
    assert again.status_code == 200, again.text


async def test_a_read_only_data_directory_is_a_clear_start_up_error(volume: Path, open_api: Any) -> None:
    home = volume / "home"
    _, service = await open_api(host_settings(home))
    await service.aclose()
    assert _mount("-o", "remount,ro", str(volume))
    try:
        with pytest.raises(SettingsError) as exc:
            await ConnectorService.open(host_settings(home), registry=builtin_registry())
        assert str(home / "connectors.db") in exc.value.message
        assert "writable" in exc.value.message
    finally:
        _mount("-o", "remount,rw", str(volume))


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Callable[[ConnectorService, int], None]:
    """Makes every write statement of a service's store fail with a SQLite result code."""

    def arm(service: ConnectorService, code: int) -> None:
        def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                exc = sqlite3.OperationalError("injected storage fault")
                exc.sqlite_errorcode = code  # what sqlite3 sets on a real SQLITE_FULL / SQLITE_READONLY
                raise exc

        event.listen(service.store.engine, "before_cursor_execute", refuse)

    return arm


@pytest.mark.parametrize(("code", "status", "words"), [(13, 507, "no space left"), (8, 503, "is read-only")])
async def test_injected_storage_faults_are_typed_and_reads_go_on(
    tmp_path: Path, open_api: Any, inject: Any, code: int, status: int, words: str
) -> None:
    api, service = await open_api(host_settings(tmp_path / "home"))
    created = await api.post("/api/actions/connector", headers=HEADERS, json=document())
    cid = created.json()["id"]
    inject(service, code)
    await assert_writes_refused(api, cid, status, words)
    await assert_reads_served(api, cid)
